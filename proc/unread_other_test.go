//go:build !linux

package proc_test

// ioctlUnread is the ioctl that tells how many bytes wait unread in a
// socket: FIONREAD, _IOR('f', 127, int) on macOS and FreeBSD (x/sys
// does not name it there).
const ioctlUnread = 0x4004667f

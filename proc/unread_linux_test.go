package proc_test

import "golang.org/x/sys/unix"

// ioctlUnread is the ioctl that tells how many bytes wait unread in a
// socket: SIOCINQ.
const ioctlUnread = unix.SIOCINQ

//go:build linux || freebsd

package sysport

import "golang.org/x/sys/unix"

// RecvFlags are the recvmsg flags that make received descriptors
// close-on-exec where the kernel can (see CloexecRights).
const RecvFlags = unix.MSG_CMSG_CLOEXEC

// Socketpair makes a connected pair of Unix sockets of type typ
// (unix.SOCK_STREAM, SOCK_DGRAM), both close-on-exec.
func Socketpair(typ int) ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
}

// Socket makes a socket that is close-on-exec and non-blocking.
func Socket(family, typ, proto int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
}

// CloexecRights makes the descriptors of received SCM_RIGHTS ancillary
// data close-on-exec where RecvFlags could not: here it did, and this
// does nothing.
func CloexecRights(oob []byte) {}

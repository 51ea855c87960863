package sysport

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS has no SOCK_CLOEXEC, accept4 or MSG_CMSG_CLOEXEC: descriptors
// are made close-on-exec right after they are made. Socketpair and
// Socket do it under syscall.ForkLock, as Go's own net and os packages
// do, so that no fork by os/exec runs in between; a received
// descriptor (CloexecRights) and an accepted one (Accept) are exposed
// to a concurrent fork for that moment, as in Go's net package on macOS.

// RecvFlags are the recvmsg flags that make received descriptors
// close-on-exec where the kernel can: none on macOS (see CloexecRights).
const RecvFlags = 0

// Socketpair makes a connected pair of Unix sockets of type typ
// (unix.SOCK_STREAM, SOCK_DGRAM), both close-on-exec.
func Socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// Socket makes a socket that is close-on-exec and non-blocking.
func Socket(family, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// CloexecRights makes the descriptors of received SCM_RIGHTS ancillary
// data oob close-on-exec.
func CloexecRights(oob []byte) { cloexecRights(oob) }

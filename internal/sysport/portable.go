package sysport

import (
	"time"

	"golang.org/x/sys/unix"
)

// The pieces of the macOS and FreeBSD paths that need no such kernel,
// here so that Linux's tests exercise them too.

// cloexecRights makes the descriptors of SCM_RIGHTS ancillary data oob
// close-on-exec; it ignores what it cannot parse.
func cloexecRights(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		fds, _ := unix.ParseUnixRights(&msgs[i])
		for _, fd := range fds {
			unix.CloseOnExec(fd)
		}
	}
}

// familyOf is the address family of a socket address as getsockname
// returns it (AF_UNSPEC for one it does not know), as Go's
// net.FileConn tells a socket's family.
func familyOf(sa unix.Sockaddr) int {
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET
	case *unix.SockaddrInet6:
		return unix.AF_INET6
	case *unix.SockaddrUnix:
		return unix.AF_UNIX
	}
	return unix.AF_UNSPEC
}

// millis is d in whole milliseconds for poll(2), rounded up so that a
// wait is never shorter than asked, and at most the largest int32.
func millis(d time.Duration) int {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return int(min(max(ms, 0), 1<<31-1))
}

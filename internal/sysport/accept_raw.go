//go:build linux || freebsd

package sysport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept accepts a connection on the listening socket lfd, close-on-exec
// and non-blocking, with a raw system call: it cannot block (lfd is
// non-blocking), so it need not tell the Go scheduler that the thread
// might, which wakes the runtime's monitor thread in an idle process. It
// asks for no peer address (x/sys's Accept4 decodes one, with a
// getsockopt per IPv4 connection).
func Accept(lfd int) (int, error) { return AcceptAddr(lfd, nil) }

// AcceptAddr is Accept that also stores the peer's address in rsa, if
// not nil, undecoded.
func AcceptAddr(lfd int, rsa *unix.RawSockaddrAny) (int, error) {
	l := uint32(unix.SizeofSockaddrAny)
	var p, lp uintptr
	if rsa != nil {
		p, lp = uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l))
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), p, lp, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

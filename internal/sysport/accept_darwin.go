package sysport

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept accepts a connection on the non-blocking listening socket lfd,
// and makes it close-on-exec and non-blocking (macOS has no accept4).
func Accept(lfd int) (int, error) { return AcceptAddr(lfd, nil) }

// AcceptAddr is Accept that also stores the peer's address in rsa, if
// not nil, undecoded. It holds syscall.ForkLock from the accept to the
// close-on-exec, as Go's net package does here.
func AcceptAddr(lfd int, rsa *unix.RawSockaddrAny) (int, error) {
	l := uint32(unix.SizeofSockaddrAny)
	var p, lp uintptr
	if rsa != nil {
		p, lp = uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l))
	}
	syscall.ForkLock.RLock()
	r, _, e := unix.Syscall(unix.SYS_ACCEPT, uintptr(lfd), p, lp)
	if e == 0 {
		unix.CloseOnExec(int(r))
	}
	syscall.ForkLock.RUnlock()
	if e != 0 {
		return -1, e
	}
	if err := unix.SetNonblock(int(r), true); err != nil {
		unix.Close(int(r))
		return -1, err
	}
	return int(r), nil
}

package sysport

import (
	"os"

	"golang.org/x/sys/unix"
)

// Family returns the address family of the socket fd (unix.AF_INET,
// AF_INET6, AF_UNIX): macOS has no SO_DOMAIN, so it asks getsockname, as
// Go's net.FileConn does.
func Family(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1, os.NewSyscallError("getsockname", err)
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return unix.AF_INET6, nil
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, nil
	}
	return unix.AF_UNSPEC, nil
}

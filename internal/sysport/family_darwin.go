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
	return familyOf(sa), nil
}

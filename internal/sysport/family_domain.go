//go:build linux || freebsd

package sysport

import (
	"os"

	"golang.org/x/sys/unix"
)

// Family returns the address family of the socket fd (unix.AF_INET,
// AF_INET6, AF_UNIX), SO_DOMAIN here.
func Family(fd int) (int, error) {
	f, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return -1, os.NewSyscallError("getsockopt SO_DOMAIN", err)
	}
	return f, nil
}

package sysport

import (
	"os"

	"golang.org/x/sys/unix"
)

// PeerUID returns the uid of the process at the other end of the
// connected Unix socket fd, as the kernel recorded it at connect
// (SO_PEERCRED on Linux).
func PeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, os.NewSyscallError("getsockopt SO_PEERCRED", err)
	}
	return int(cred.Uid), nil
}

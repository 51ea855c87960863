//go:build darwin || freebsd

package sysport

import (
	"os"

	"golang.org/x/sys/unix"
)

// PeerUID returns the uid of the process at the other end of the
// connected Unix socket fd, as the kernel recorded it at connect
// (LOCAL_PEERCRED, the call under getpeereid(3), on macOS and FreeBSD).
func PeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, os.NewSyscallError("getsockopt LOCAL_PEERCRED", err)
	}
	return int(cred.Uid), nil
}

package sysport

import "golang.org/x/sys/unix"

// closeRangeCloexec is close_range(2)'s CLOSE_RANGE_CLOEXEC (FreeBSD
// 13.1 and later); x/sys does not name it.
const closeRangeCloexec = 1 << 2

// CloexecFrom marks every open descriptor from from up close-on-exec, so
// that what this process inherited does not reach its children: with
// close_range, or, on a FreeBSD before 13.1, from /dev/fd (which lists
// them all only with fdescfs mounted there).
func CloexecFrom(from int) {
	_, _, e := unix.Syscall(unix.SYS_CLOSE_RANGE, uintptr(from), uintptr(^uint32(0)), closeRangeCloexec)
	if e != 0 {
		cloexecListed("/dev/fd", from)
	}
}

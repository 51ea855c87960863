package sysport

import (
	"time"

	"golang.org/x/sys/unix"
)

// Poll waits up to d for an event on fds (as poll(2)) and returns how
// many have one; Linux waits with ppoll, to the nanosecond.
func Poll(fds []unix.PollFd, d time.Duration) (int, error) {
	ts := unix.NsecToTimespec(int64(d))
	return unix.Ppoll(fds, &ts, nil)
}

//go:build !linux

package sysport

import (
	"time"

	"golang.org/x/sys/unix"
)

// Poll waits up to d for an event on fds (as poll(2)) and returns how
// many have one; elsewhere than Linux it waits with poll, d rounded up
// to the millisecond.
func Poll(fds []unix.PollFd, d time.Duration) (int, error) {
	return unix.Poll(fds, millis(d))
}

package cli

import (
	"os"
	"runtime"
)

// selfCounts returns herd's goroutine count and open file descriptor
// count (0 when unknown), for herd status: a leak shows as a count that
// grows while the workers stay the same.
func selfCounts() (goroutines, fds int) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents) - 1 // the directory being read
	}
	return runtime.NumGoroutine(), fds
}

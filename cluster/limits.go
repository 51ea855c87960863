package cluster

import (
	"errors"
	"fmt"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// ErrTooManyWorkers is returned by Scale, and by Run for Config.Workers,
// when the number of workers asked for is over Config.MaxWorkers.
var ErrTooManyWorkers = errors.New("cluster: too many workers")

// The costs and headroom of DefaultMaxWorkers. Each worker holds 4 of
// the primary's descriptors (its channel, its pidfd, and the pipes of its
// output when the CLI captures it), a few more while it is forked or
// hands over connections; it holds one OS thread of the primary (the
// thread that forked it stays locked for Pdeathsig), and counts against
// the user's process limit with that thread and its own process.
const (
	workerFDs       = 8    // descriptors of the primary's per worker, with room for forks and hand-offs
	reservedFDs     = 256  // the primary's own descriptors: sockets, logs, control, state store
	workerThreads   = 1    // the forking thread, locked for the worker's life
	reservedThreads = 1000 // the Go runtime's and the goroutines' blocked in system calls
	workerTasks     = 2    // its process and the primary's thread, in RLIMIT_NPROC
	reservedTasks   = 256  // the user's other processes and threads
	goMaxThreads    = 10000
)

// DefaultMaxWorkers is the most workers this process can run without
// running out of a resource the kernel or Go's runtime limits; it is the
// smallest of
//
//	(RLIMIT_NOFILE - 256) / 8
//	(RLIMIT_NPROC - 256) / 2        (when RLIMIT_NPROC is limited)
//	(Go's thread limit - 1000) / 1  (debug.SetMaxThreads, 10,000 unless changed)
//
// and at least 1. With Go's defaults and no tighter ulimit it is 9,000.
func DefaultMaxWorkers() int {
	n := (maxThreads() - reservedThreads) / workerThreads
	if lim, ok := rlimit(unix.RLIMIT_NOFILE); ok {
		n = min(n, (lim-reservedFDs)/workerFDs)
	}
	if lim, ok := rlimit(unix.RLIMIT_NPROC); ok {
		n = min(n, (lim-reservedTasks)/workerTasks)
	}
	return max(n, 1)
}

// maxThreads reads Go's thread limit (SetMaxThreads has no getter: it is
// set back at once).
func maxThreads() int {
	n := debug.SetMaxThreads(goMaxThreads)
	debug.SetMaxThreads(n)
	return n
}

// rlimit returns a resource's soft limit, and false when it is unlimited
// or unknown.
func rlimit(resource int) (int, bool) {
	var r unix.Rlimit
	if err := unix.Getrlimit(resource, &r); err != nil || r.Cur == unix.RLIM_INFINITY || r.Cur > 1<<31 {
		return 0, false
	}
	return int(r.Cur), true
}

// checkWorkers refuses a number of workers over Config.MaxWorkers.
func (c *Config) checkWorkers(n int) error {
	if n > c.MaxWorkers {
		return fmt.Errorf("%w: %d is over the limit of %d workers", ErrTooManyWorkers, n, c.MaxWorkers)
	}
	return nil
}

//go:build !linux

package proc_test

// onDyingThread runs f and returns 0: only Linux ties a parent-death
// signal to the forking thread, so the thread does not matter here.
func onDyingThread(f func()) int {
	f()
	return 0
}

// waitThreadGone does nothing (see onDyingThread).
func waitThreadGone(int) {}

package proc_test

import (
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// onDyingThread runs f on a goroutine locked to a thread that ends when
// f returns (the goroutine exits without unlocking), and returns that
// thread's id. Go parks the main thread instead of ending it, so a
// goroutine that lands there holds it while the next attempt runs.
func onDyingThread(f func()) int {
	release := make(chan struct{})
	defer close(release)
	for range 3 {
		got := make(chan int)
		go func() {
			runtime.LockOSThread()
			if tid := unix.Gettid(); tid == unix.Getpid() {
				got <- 0
				<-release
				runtime.UnlockOSThread()
				return
			}
			f()
			got <- unix.Gettid()
		}()
		if tid := <-got; tid != 0 {
			return tid
		}
	}
	childFatal("could not get off the main thread")
	return 0
}

// waitThreadGone waits until this process has no thread tid.
func waitThreadGone(tid int) {
	path := "/proc/self/task/" + strconv.Itoa(tid)
	for range 1000 {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	childFatal("thread %d did not end", tid)
}

package main_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/herdhq/herd/cluster"
)

// helperFlood writes floodLines numbered lines of 100 bytes on stdout as
// fast as it can, then sleeps; workers other than the first only say so.
// It does not speak herd's protocol (it would have to listen to be ready).
func helperFlood() {
	if os.Getenv("HERD_WORKER_ID") != "1" {
		fmt.Println("quiet worker")
		time.Sleep(time.Hour)
	}
	pad := strings.Repeat("x", 80)
	for i := 0; i < floodLines; i++ {
		fmt.Printf("flood %06d %s\n", i, pad)
	}
	time.Sleep(time.Hour)
}

// floodLines is how many lines helperFlood writes: 2 MB.
const floodLines = 20000

// helperBloat is helperGoWorker; worker 1 also holds 256 MiB.
func helperBloat() {
	if cluster.WorkerID() == 1 {
		ballast = make([]byte, 256<<20)
		for i := 0; i < len(ballast); i += 4096 {
			ballast[i] = 1
		}
	}
	helperGoWorker()
}

var ballast []byte

// helperSpin is helperGoWorker, except that worker 1 soon spins in a loop
// that cannot be preempted (herd runs it with GOMAXPROCS=1 and
// asynchronous preemption off): its heartbeats stop, as those of a wedged
// Go runtime would.
func helperSpin() {
	if cluster.WorkerID() == 1 {
		go func() {
			time.Sleep(1500 * time.Millisecond)
			spinForever()
		}()
	}
	helperGoWorker()
}

//go:noinline
func spinForever() {
	for {
	}
}

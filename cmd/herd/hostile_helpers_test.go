package main_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
)

// hostileListens is how many distinct sockets the hostile worker asks for.
const hostileListens = 3000

// helperHostile is helperGoWorker, except that worker 1, once the file
// HERD_TEST_GO exists, asks herd for hostileListens sockets on distinct
// addresses (127.0.1.1:0, 127.0.1.2:0, ...), keeps those it gets, prints
// "hostile done ok=N refused=M" and then waits to be killed.
func helperHostile() {
	if cluster.WorkerID() != 1 {
		helperGoWorker()
		return
	}
	// Ready by a socket of its own: on herd's --listen address it would get
	// round-robin connections it never accepts.
	if _, err := cluster.Listen("tcp", "127.0.99.1:0"); err != nil {
		os.Exit(3)
	}
	for _, err := os.Stat(os.Getenv("HERD_TEST_GO")); err != nil; _, err = os.Stat(os.Getenv("HERD_TEST_GO")) {
		time.Sleep(20 * time.Millisecond)
	}
	var kept []net.Listener
	refused := 0
	for i := range hostileListens {
		l, err := cluster.Listen("tcp", fmt.Sprintf("127.0.%d.%d:0", 1+i/250, 1+i%250))
		switch {
		case err == nil:
			kept = append(kept, l)
		case errors.Is(err, syscall.EMFILE):
			refused++
		default:
			fmt.Fprintln(os.Stderr, "hostile: listen:", err)
			os.Exit(4)
		}
	}
	fmt.Printf("hostile done ok=%d refused=%d\n", len(kept), refused)
	time.Sleep(time.Hour)
}

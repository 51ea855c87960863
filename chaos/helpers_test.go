//go:build chaos

package chaos

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/hostile"
	"github.com/herdhq/herd/internal/testutil"
)

// The workers' environment.
const (
	envAddr       = "HERD_TEST_ADDR"        // where workers listen, through the primary
	envDir        = "HERD_CHAOS_DIR"        // flood tokens and grandchild pids
	envGrandchild = "HERD_CHAOS_GRANDCHILD" // "1": each worker starts a grandchild; "setsid": a daemon in a session of its own
)

// helperWorker is a worker of herd's Go library that answers its pid
// after 1 ms, so that requests are in flight when it is killed. A worker
// that finds a flood token in HERD_CHAOS_DIR floods its channel instead
// (the first one to rename the token wins).
func helperWorker() {
	dir := os.Getenv(envDir)
	if mode := claimFlood(dir); mode != "" {
		flood(mode)
		return
	}
	switch os.Getenv(envGrandchild) {
	case "1":
		startGrandchild(dir)
	case "setsid":
		startDaemon(dir)
	}
	l, err := cluster.Listen("tcp", os.Getenv(envAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Millisecond)
		fmt.Fprintf(w, "%d\n", os.Getpid())
	})
	if err := cluster.Serve(&http.Server{Handler: h}, l); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(4)
	}
}

// helperCrash exits at once, every time.
func helperCrash() {
	fmt.Fprintln(os.Stderr, "chaos: crashing at start")
	os.Exit(1)
}

// helperSleeper is a grandchild: it sleeps, bounded.
func helperSleeper() { time.Sleep(90 * time.Second) }

// floodToken is the file a test writes (its content: the flood mode) to
// make the next worker that starts flood its channel.
const floodToken = "flood.todo"

// claimFlood renames the token, if there is one, and returns its mode.
func claimFlood(dir string) string {
	if dir == "" {
		return ""
	}
	mine := filepath.Join(dir, "flood-"+strconv.Itoa(os.Getpid())+".claimed")
	if os.Rename(filepath.Join(dir, floodToken), mine) != nil {
		return ""
	}
	b, _ := os.ReadFile(mine)
	return string(b)
}

// flood writes bad input on the channel to the primary, bounded in time
// and size, then waits (bounded) to be killed.
func flood(mode string) {
	fd, err := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood: no channel:", err)
		os.Exit(5)
	}
	fmt.Fprintf(os.Stderr, "chaos: flooding the channel: %s\n", mode)
	if err := hostile.Run(mode, fd, time.Now().Add(30*time.Second)); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(6)
	}
	fmt.Fprintln(os.Stderr, "chaos: flood done, waiting to be killed")
	time.Sleep(60 * time.Second)
}

// startGrandchild starts a sleeper child and records "WORKER CHILD" pids
// in HERD_CHAOS_DIR/gc-WORKER.
func startGrandchild(dir string) {
	c := exec.Command(os.Args[0])
	c.Env = testutil.HelperEnv("sleeper")
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "grandchild:", err)
		os.Exit(7)
	}
	go c.Wait()
	os.WriteFile(filepath.Join(dir, "gc-"+strconv.Itoa(os.Getpid())), []byte(fmt.Sprintf("%d %d", os.Getpid(), c.Process.Pid)), 0o644)
}

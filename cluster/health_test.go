package cluster_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/proc"
)

// helperBloat serves like helperHTTP; worker 1 also holds 256 MiB.
func helperBloat() {
	if cluster.WorkerID() == 1 {
		ballast = make([]byte, 256<<20)
		for i := 0; i < len(ballast); i += 4096 {
			ballast[i] = 1
		}
	}
	helperHTTP()
}

// ballast keeps helperBloat's memory referenced.
var ballast []byte

// helperSpin serves for a while, then spins in a loop that cannot be
// preempted (it runs with GOMAXPROCS=1 and asynchronous preemption off):
// its heartbeats stop, as a wedged runtime's would.
func helperSpin() {
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		os.Exit(3)
	}
	go cluster.Serve(&http.Server{Handler: http.HandlerFunc(hello)}, l)
	time.Sleep(1500 * time.Millisecond)
	spin()
}

//go:noinline
func spin() {
	for {
	}
}

// eventWith waits for an event of type t for worker id whose Detail has
// detail.
func (h *harness) eventWith(t cluster.EventType, id int, detail string) cluster.Event {
	h.t.Helper()
	var found cluster.Event
	testutil.Eventually(h.t, fmt.Sprintf("%s event for worker %d", t, id), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.events {
			if e.Type == t && e.WorkerID == id && strings.Contains(e.Detail, detail) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func (h *harness) stats() cluster.Stats {
	h.t.Helper()
	st, err := h.p.Stats()
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// TestStoppedWorkerIsRoutedAroundAndReplaced stops a worker (SIGSTOP): it
// sends no more heartbeats, is taken out of routing, then replaced.
func TestStoppedWorkerIsRoutedAroundAndReplaced(t *testing.T) {
	testutil.SkipIfShort(t, "a 4 s heartbeat timeout (TestWedgedWorkerPrintsItsStacks is the fast one)")
	testutil.CheckFDs(t)
	h := start(t, cluster.Config{Workers: 2, HeartbeatTimeout: 4 * time.Second}, "http")
	h.waitReady(2)
	time.Sleep(500 * time.Millisecond) // heartbeats flow
	victim := h.workers()[0]
	syscall.Kill(victim.Pid, syscall.SIGSTOP)
	defer syscall.Kill(victim.Pid, syscall.SIGKILL)
	h.eventWith(cluster.EventSuspect, victim.ID, "no heartbeat")
	// The loop emits the event before it takes the worker out of routing:
	// a call on the loop (Stats) returns once it has.
	h.stats()
	for i := 0; i < 20; i++ {
		if f := strings.Fields(get(t, h.url())); f[0] == fmt.Sprint(victim.ID) {
			t.Fatalf("request %d went to the suspected worker %d", i, victim.ID)
		}
	}
	h.eventWith(cluster.EventReplace, victim.ID, "reason=heartbeat")
	exit := h.eventWith(cluster.EventExit, victim.ID, "")
	if !exit.Expected || exit.Signal != syscall.SIGKILL {
		t.Errorf("the stopped worker's exit: %+v, want an expected SIGKILL (SIGABRT waits while it is stopped)", exit)
	}
	testutil.Eventually(t, "two ready workers", func() bool {
		ws := h.workers()
		return len(ws) == 2 && ws[0].State == cluster.StateReady && ws[1].State == cluster.StateReady
	})
	if n := h.stats().Totals.HeartbeatReplacements; n != 1 {
		t.Errorf("HeartbeatReplacements = %d, want 1", n)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestWedgedWorkerPrintsItsStacks: a Go worker whose heartbeats stop gets
// SIGABRT, and its goroutines' stacks reach its stderr.
func TestWedgedWorkerPrintsItsStacks(t *testing.T) {
	testutil.CheckFDs(t)
	stderr := filepath.Join(t.TempDir(), "stderr")
	cfg := cluster.Config{Workers: 1, HeartbeatTimeout: 3 * time.Second, MaxRestarts: -1}
	cfg.Command = func(id int) *proc.Cmd {
		c := proc.Command(os.Args[0])
		env := "spin"
		if id > 1 {
			env = "http" // the replacement serves
		}
		c.Env = testutil.HelperEnv(env, "HERD_TEST_ADDR=127.0.0.1:0", "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1")
		f, err := os.OpenFile(stderr, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Error(err)
			return c
		}
		c.Stderr = f
		t.Cleanup(func() { f.Close() })
		return c
	}
	h := startWith(t, cfg)
	h.waitReady(1)
	h.eventWith(cluster.EventReplace, 1, "reason=heartbeat")
	exit := h.eventWith(cluster.EventExit, 1, "")
	if !exit.Expected {
		t.Errorf("the hung worker's exit was unexpected: %+v", exit)
	}
	h.waitReady(1)
	b, _ := os.ReadFile(stderr)
	for _, want := range []string{"SIGABRT", "goroutine ", "(*worker).heartbeat"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the hung worker's stderr:\n%s", want, b)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestBloatedWorkerIsReplaced: a worker above MaxMemory is replaced, and
// drains.
func TestBloatedWorkerIsReplaced(t *testing.T) {
	testutil.CheckFDs(t)
	h := start(t, cluster.Config{Workers: 2, MaxMemory: 128 << 20}, "bloat")
	h.waitReady(2)
	h.eventWith(cluster.EventReplace, 1, "reason=memory")
	exit := h.eventWith(cluster.EventExit, 1, "")
	if !exit.Expected || exit.Code != 0 {
		t.Errorf("the bloated worker's exit: %+v, want a graceful one", exit)
	}
	testutil.Eventually(t, "two ready workers", func() bool {
		ws := h.workers()
		return len(ws) == 2 && ws[0].State == cluster.StateReady && ws[1].State == cluster.StateReady
	})
	st := h.stats()
	if st.Totals.MemoryReplacements != 1 || st.Totals.Restarts != 1 || st.Totals.Crashes != 0 {
		t.Errorf("totals %+v: want one memory replacement (a restart), no crash", st.Totals)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestStatsCount checks the counters move with connections and restarts,
// and that an exited worker's connections stay in the totals.
func TestStatsCount(t *testing.T) {
	testutil.CheckFDs(t)
	h := start(t, cluster.Config{Workers: 2, Policy: cluster.LeastConn}, "http")
	h.waitReady(2)
	for i := 0; i < 10; i++ {
		get(t, h.url())
	}
	var st cluster.Stats
	testutil.Eventually(t, "10 connections counted", func() bool { // a hand-off counts once its handle is sent: the answer may come first
		st = h.stats()
		return st.Totals.Handed == 10
	})
	if st.Desired != 2 || len(st.Workers) != 2 || st.Totals.Handed != 10 || st.Totals.Started != 2 {
		t.Fatalf("stats after 10 requests: %+v", st)
	}
	for _, w := range st.Workers {
		if w.Protocol != "herd" || !w.OpenKnown || w.Handed == 0 || w.InternalIn == 0 || w.InternalOut < uint64(w.Handed) {
			t.Errorf("worker stats %+v", w)
		}
	}
	syscall.Kill(st.Workers[0].Pid, syscall.SIGKILL)
	h.waitReady(1)
	st = h.stats()
	if st.Totals.Handed != 10 || st.Totals.Crashes != 1 || st.Totals.Restarts != 1 || st.Totals.Started != 3 {
		t.Fatalf("totals after a crash: %+v", st.Totals)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Stats(); err == nil {
		t.Fatal("Stats after Run returned: no error")
	}
}

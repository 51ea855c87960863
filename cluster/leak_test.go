package cluster_test

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

func TestEveryPolicyServesOnEveryWorker(t *testing.T) {
	t.Parallel()
	for _, pol := range []cluster.Policy{cluster.RoundRobin, cluster.LeastConn, cluster.ReusePort, cluster.Shared} {
		t.Run(pol.String(), func(t *testing.T) {
			h := start(t, cluster.Config{Workers: 3, Policy: pol}, "http")
			h.waitReady(3)
			seen := map[string]int{}
			for i := 0; i < 300 && len(seen) < 3; i++ {
				seen[strings.Fields(get(t, h.url()))[0]]++
			}
			if len(seen) != 3 && pol != cluster.Shared {
				t.Fatalf("requests reached workers %v", seen)
			}
			t.Logf("spread %v", seen)
		})
	}
}

// A worker that stops reading its channel holds connections the primary
// handed it; when it dies they go to another worker, none is lost.
func TestDeadWorkersConnectionsAreRerouted(t *testing.T) {
	t.Parallel()
	h := start(t, cluster.Config{Workers: 2}, "http")
	h.waitReady(2)
	victim := h.workers()[0].Pid
	syscall.Kill(victim, syscall.SIGSTOP)
	testutil.Eventually(t, "the worker to stop", func() bool { return allStopped(victim) })
	var wg sync.WaitGroup
	bodies := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := tryGet(h.url())
			if err != nil {
				t.Error(err)
			}
			bodies <- body
		}()
	}
	time.Sleep(500 * time.Millisecond)
	syscall.Kill(victim, syscall.SIGKILL)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if strings.Contains(b, " "+itoa(victim)) {
			t.Fatalf("the stopped worker answered: %q", b)
		}
	}
}

func TestNoLeaksAfterManyConnectionsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	testutil.CheckGoroutines(t) // retries for longer than goleak.VerifyNone: a busy machine is slow
	testutil.CheckFDs(t)
	h := start(t, cluster.Config{Workers: 2, MaxRestarts: -1, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, "http")
	h.waitReady(2)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for i := 0; i < 10000; i++ {
		resp, err := client.Get(h.url())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}
	t.Logf("10000 connections served")
	for i := 0; i < 100; i++ {
		syscall.Kill(h.workers()[i%2].Pid, syscall.SIGKILL)
		h.waitReady(1)
	}
	get(t, h.url())
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// allStopped reports whether every thread of pid is stopped (a group
// stop reaches the threads one by one).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/stat")
		if err != nil || statState(b) != "T" {
			return false
		}
	}
	return true
}

// statState is the state letter of a /proc stat line.
func statState(b []byte) string {
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// procState is the state letter of /proc/PID/stat ("R", "S", "T", "Z"...).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	return statState(b)
}

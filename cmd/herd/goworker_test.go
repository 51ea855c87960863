package main_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// goWorkerEnv makes herd's workers (the test binary) run helperGoWorker.
func goWorkerEnv() []string {
	return []string{testutil.EnvHelper + "=goworker", "HERD_TEST_ADDR=127.0.0.1:0"}
}

// startGoWorkers runs n workers of herd's Go library through --listen.
func startGoWorkers(t *testing.T, n string, extra ...string) *herdRun {
	t.Helper()
	args := append([]string{"-n", n, "-l", "127.0.0.1:0", "--kill-timeout", "30s"}, extra...)
	return startHerd(t, goWorkerEnv(), append(args, "--", testBinary(t))...)
}

// TestGoWorkersReloadScaleStop drives herd as an operator would: requests
// are routed round-robin, a reload under load fails none, scale goes up
// and down, and stop ends herd with status 0 before the kill timeout.
func TestGoWorkersReloadScaleStop(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "2", "--log-format", "json")
	st := h.waitWorkers(2)
	u := url(t, st)
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		seen[strings.Fields(mustGet(t, u))[1]] = true
	}
	if len(seen) != 2 {
		t.Fatalf("round robin reached workers %v, want both", seen)
	}
	checkJSONOutput(t, h)

	ok, failed := loadDuring(t, u, func() {
		if _, errOut, code := h.herdCtl("reload"); code != 0 {
			t.Errorf("herd reload: exit %d: %s", code, errOut)
		}
	})
	if failed != 0 || ok == 0 {
		t.Fatalf("during the reload: %d requests ok, %d failed", ok, failed)
	}
	after := h.waitWorkers(2)
	for pid := range pidsOf(after) {
		if pidsOf(st)[pid] {
			t.Fatalf("worker %d survived the reload", pid)
		}
	}

	scale(t, h, "4")
	h.waitWorkers(4)
	scale(t, h, "1")
	h.waitWorkers(1)

	start := time.Now()
	if _, errOut, code := h.herdCtl("stop"); code != 0 {
		t.Fatalf("herd stop: exit %d: %s", code, errOut)
	}
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd exited with %d after a stop", code)
	}
	if took := time.Since(start); took >= 30*time.Second {
		t.Fatalf("stop took %s: the kill timeout (30s) ran out", took)
	}
}

func scale(t *testing.T, h *herdRun, n string) {
	t.Helper()
	if _, errOut, code := h.herdCtl("scale", n); code != 0 {
		t.Fatalf("herd scale %s: exit %d: %s", n, code, errOut)
	}
}

// loadDuring sends requests from two clients while f runs, and a little
// after, and counts the answers (loadWith).
func loadDuring(t *testing.T, url string, f func()) (ok, failed int64) {
	t.Helper()
	return loadWith(t, url, []*http.Client{client, client}, 200*time.Millisecond, f)
}

// loadWith sends requests from each of clients, one goroutine each, while
// f runs and for settle after, and counts the answers. The loop is
// bounded in time and count.
func loadWith(t *testing.T, url string, clients []*http.Client, settle time.Duration, f func()) (ok, failed int64) {
	t.Helper()
	var okN, failN atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(2 * liveness)
			for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := getWith(cl, url); err != nil {
					failN.Add(1)
					t.Logf("request failed: %v", err)
				} else {
					okN.Add(1)
				}
			}
		}()
	}
	f()
	time.Sleep(settle)
	close(stop)
	wg.Wait()
	return okN.Load(), failN.Load()
}

// checkJSONOutput checks that worker output came out as JSON lines.
func checkJSONOutput(t *testing.T, h *herdRun) {
	t.Helper()
	h.stdout.WaitFor(t, "go worker up")
	for _, line := range strings.Split(strings.TrimSpace(h.stdout.String()), "\n") {
		var l struct {
			Worker, Pid int
			Stream, Msg string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Worker == 0 || l.Pid == 0 || l.Stream != "stdout" {
			t.Fatalf("worker output line %q is not herd's JSON (%v)", line, err)
		}
	}
}

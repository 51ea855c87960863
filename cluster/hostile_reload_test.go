package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// reloadEnd waits for the reload event that ends a reload and returns it.
func (h *harness) reloadEnd(within time.Duration) cluster.Event {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, e := range h.events {
			if e.Type == cluster.EventReload && (e.Err != nil || strings.HasPrefix(e.Detail, "done")) {
				h.mu.Unlock()
				return e
			}
		}
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("no end of the reload within %s", within)
	return cluster.Event{}
}

// TestHostileReloadDeadline: a reload whose slot waits out a long
// restart backoff fails once a step made no progress for ReadyTimeout +
// KillTimeout, naming what it waited for, instead of reporting done for a
// cluster with no worker.
func TestHostileReloadDeadline(t *testing.T) {
	t.Parallel()
	cfg := cluster.Config{Workers: 1, ReadyTimeout: time.Second, KillTimeout: 500 * time.Millisecond,
		BackoffMin: time.Minute, BackoffMax: time.Minute, MaxRestarts: -1}
	h := start(t, cfg, "crash")
	testutil.Eventually(t, "the slot to wait out its backoff", func() bool { return h.count(cluster.EventRestart) == 2 })
	began := time.Now()
	if err := h.p.Reload(); err != nil {
		t.Fatal(err)
	}
	e := h.reloadEnd(30 * time.Second)
	took := time.Since(began)
	t.Logf("reload ended after %s: %s", took.Round(time.Millisecond), e)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "slot 1 has no worker") {
		t.Fatalf("reload ended with %s; want a failure naming the empty slot", e)
	}
	if took < 1500*time.Millisecond {
		t.Fatalf("reload failed after %s, before its step's deadline", took)
	}
}

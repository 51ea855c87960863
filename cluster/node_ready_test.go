package cluster_test

import (
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// eventsOf returns the events of one type, in order.
func (h *harness) eventsOf(t cluster.EventType) []cluster.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []cluster.Event
	for _, e := range h.events {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

// readyAfterListening checks that no worker was ready before its server
// listened.
func readyAfterListening(t *testing.T, h *harness) {
	t.Helper()
	listening := map[int]time.Time{}
	for _, e := range h.eventsOf(cluster.EventListening) {
		if _, ok := listening[e.WorkerID]; !ok {
			listening[e.WorkerID] = e.Time
		}
	}
	for _, e := range h.eventsOf(cluster.EventReady) {
		at, ok := listening[e.WorkerID]
		if !ok || e.Time.Before(at) {
			t.Errorf("worker %d ready at %s, listening at %s (%t)", e.WorkerID, e.Time.Format(time.StampMilli), at.Format(time.StampMilli), ok)
		}
	}
}

// oldGoneAfterNewListens checks a reload of n workers: the k-th old
// worker was asked to stop only after the k-th new one listened.
func oldGoneAfterNewListens(t *testing.T, h *harness, n int) {
	t.Helper()
	var newListening []time.Time
	for _, e := range h.eventsOf(cluster.EventListening) {
		if e.WorkerID > n {
			newListening = append(newListening, e.Time)
		}
	}
	k := 0
	for _, e := range h.eventsOf(cluster.EventDisconnect) {
		if e.WorkerID > n {
			continue
		}
		if k >= len(newListening) || e.Time.Before(newListening[k]) {
			t.Errorf("old worker %d disconnected at %s before its successor listened", e.WorkerID, e.Time.Format(time.StampMilli))
		}
		k++
	}
}

// A Node worker that makes its server at once and listens later (as
// Fastify does: fastify() makes the server, listen waits for the plugins)
// is ready when the server listens, however long that takes, and a
// reload stops no old worker before its successor listens.
func TestNodeReadyWhenListening(t *testing.T) {
	testutil.SkipIfShort(t, "an app that listens after 2.5 s, with a reload (TestNodeReadyWithoutServer is the fast one)")
	const app = `const srv = require('http').createServer((req, res) => res.end(String(process.pid)));
setTimeout(() => srv.listen(0), 2500);
`
	testutil.CheckFDs(t) // once for the policies, which run in parallel
	for _, pol := range allPolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, app)
			h.waitReady(2)
			get(t, "http://"+h.local()+"/")
			if err := h.p.Reload(); err != nil {
				t.Fatal(err)
			}
			h.waitReady(2)
			readyAfterListening(t, h)
			oldGoneAfterNewListens(t, h, 2)
			if n := h.count(cluster.EventNotice); n != 0 {
				t.Errorf("%d notices for an app that never reads cluster.isPrimary", n)
			}
			stopClean(t, h)
		})
	}
}

// A Node worker that never asks for a server keeps the one-second rule:
// it is ready once its start has settled, with the preload or without.
func TestNodeReadyWithoutServer(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	const app = `process.on('message', () => {}); // alive until the primary disconnects it
`
	for name, grace := range map[string]time.Duration{"preload": 0, "no preload": -1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, IdleGrace: grace, ReadyTimeout: 10 * time.Minute}, app)
			h.waitReady(2)
			stopClean(t, h)
		})
	}
}

// An app written as its own cluster primary (if cluster.isPrimary ...
// cluster.fork()) runs its worker branch under herd: herd says so, once.
func TestNodePrimaryScriptNotice(t *testing.T) {
	testutil.CheckFDs(t)
	const app = `const cluster = require('cluster');
if (cluster.isPrimary) {
  for (let i = 0; i < 4; i++) cluster.fork();
} else {
  require('http').createServer((req, res) => res.end(String(process.pid))).listen(0);
}
`
	h := startNode(t, cluster.Config{Workers: 2}, app)
	h.waitReady(2)
	testutil.Eventually(t, "a notice", func() bool { return h.count(cluster.EventNotice) > 0 })
	stopClean(t, h)
	if n := h.count(cluster.EventNotice); n != 1 {
		t.Fatalf("%d notices, want 1", n)
	}
}

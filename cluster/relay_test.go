package cluster_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
)

// nodeBroadcaster broadcasts {herd: "broadcast", from: pid} to the other
// workers through herd every 100ms, and tells the primary once of each
// worker it heard from.
const nodeBroadcaster = `
const heard = new Set();
setInterval(() => process.send({herd: 'broadcast', from: process.pid}), 100);
process.on('message', (m) => {
  if (m.herd === 'broadcast' && !heard.has(m.from)) {
    heard.add(m.from);
    process.send({heard: m.from, by: process.pid});
  }
});
`

// TestNodeBroadcast: a Node worker's {herd: "broadcast"} message reaches
// every other Node worker, never itself, and not the primary's OnMessage.
func TestNodeBroadcast(t *testing.T) {
	var b inbox
	h := startNode(t, cluster.Config{Workers: 3, Readiness: cluster.ReadyOnStart, OnMessage: b.onMessage}, nodeBroadcaster)
	h.waitReady(3)
	ws, err := h.p.Workers()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, a := range ws {
		for _, c := range ws {
			if a.Pid != c.Pid {
				want[fmt.Sprintf("%d>%d", a.Pid, c.Pid)] = true
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for got := heardPairs(&b); len(got) < len(want); got = heardPairs(&b) {
		if time.Now().After(deadline) {
			t.Fatalf("heard %v; want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for pair := range heardPairs(&b) {
		if !want[pair] {
			t.Fatalf("unexpected %s (a worker heard itself?)", pair)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m["herd"] != nil {
			t.Fatalf("a relayed message reached OnMessage: %v", m)
		}
	}
}

// heardPairs returns "from>by" for each report.
func heardPairs(b *inbox) map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]bool{}
	for _, m := range b.msgs {
		if m["heard"] != nil {
			out[strings.TrimSpace(fmt.Sprintf("%.0f>%.0f", m["heard"], m["by"]))] = true
		}
	}
	return out
}

// nodeFlooder: worker 1 broadcasts 64 KiB messages as fast as Node sends
// them; worker 2, once the flood reaches it, blocks its event loop for
// 3 s, reading nothing.
const nodeFlooder = `
const pad = 'x'.repeat(64 << 10);
if (process.env.HERD_WORKER_ID === '1') {
  const flood = () => process.connected && process.send({herd: 'broadcast', pad}, (err) => err || setImmediate(flood));
  flood();
} else {
  process.once('message', () => { const end = Date.now() + 3000; while (Date.now() < end); });
}
`

// TestHostileRelayFlood: a worker that floods broadcasts at one that does
// not read makes the primary hold at most relayMaxQueued for it: past it,
// messages are dropped (logged once), the slow worker is not cut off (the
// relay fills at most a quarter of its channel's MaxQueue), and the
// primary goes on answering.
func TestHostileRelayFlood(t *testing.T) {
	var log syncLog
	h := startNode(t, cluster.Config{Workers: 2, Readiness: cluster.ReadyOnStart, KillTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&log, nil))}, nodeFlooder)
	h.waitReady(2)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "relay queue is full") {
		if time.Now().After(deadline) {
			t.Fatalf("no drop logged within 30s:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if h.count(cluster.EventExit) > 0 { // relayed messages alone must not pass MaxQueue
			t.Fatalf("a worker was cut off by the flood:\n%s", log.String())
		}
	}
	if _, err := h.p.Workers(); err != nil {
		t.Fatal(err)
	}
}

// syncLog is a log sink safe for concurrent use.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package cluster_test

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/herdhq/herd/cluster"
)

// TestHostileScaleOverMax: Scale over MaxWorkers is ErrTooManyWorkers
// and changes nothing; Run refuses Workers over it; a scale to the max
// is forked in batches while the primary answers.
func TestHostileScaleOverMax(t *testing.T) {
	t.Parallel()
	if err := cluster.Run(context.Background(), cluster.Config{Workers: 3, MaxWorkers: 2, NoSignals: true}); !errors.Is(err, cluster.ErrTooManyWorkers) {
		t.Fatalf("Run with Workers over MaxWorkers: %v", err)
	}
	h := start(t, cluster.Config{Workers: 1, MaxWorkers: 20}, "http")
	h.waitReady(1)
	if err := h.p.Scale(100000); !errors.Is(err, cluster.ErrTooManyWorkers) {
		t.Fatalf("Scale(100000): %v, want ErrTooManyWorkers", err)
	}
	if err := h.p.Scale(20); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Workers(); err != nil { // the loop answers during the forks
		t.Fatal(err)
	}
	h.waitReady(19)
	if ws := h.workers(); len(ws) != 20 {
		t.Fatalf("%d workers after Scale(20)", len(ws))
	}
	get(t, h.url())
}

// TestCrashedWorkerKeepsPort: the socket a lone worker asked for is not
// closed when it crashes (its slot holds it until the next worker is
// ready), so the port stays the same over the restart.
func TestCrashedWorkerKeepsPort(t *testing.T) {
	t.Parallel()
	h := start(t, cluster.Config{Workers: 1}, "http")
	h.waitReady(1)
	before := h.url()
	syscall.Kill(h.workers()[0].Pid, syscall.SIGKILL)
	h.waitReady(1)
	if after := h.url(); after != before {
		t.Fatalf("the port moved over the restart: %s, then %s", before, after)
	}
	get(t, before)
}

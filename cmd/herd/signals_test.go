package main_test

import (
	"syscall"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// TestSignals: kill works as the control commands do: TTIN and TTOU
// scale, HUP reloads, TERM stops with status 0.
func TestSignals(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "2")
	first := h.waitWorkers(2)
	h.cmd.Process.Signal(syscall.SIGTTIN)
	h.waitWorkers(3)
	h.cmd.Process.Signal(syscall.SIGTTOU)
	h.waitWorkers(2)
	h.cmd.Process.Signal(syscall.SIGHUP)
	h.stderr.waitFor(t, "done generation=1")
	for pid := range pidsOf(h.waitWorkers(2)) {
		if pidsOf(first)[pid] {
			t.Fatalf("worker %d survived SIGHUP's reload", pid)
		}
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd exited with %d after SIGTERM", code)
	}
}

package main_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

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
	h.stderr.WaitFor(t, "done generation=1")
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

// TestHostileSecondSIGTERM: a second SIGTERM while herd waits for a
// worker that ignores the first kills the workers, and herd says so with
// its own exit status (5), not the 0 of a graceful stop.
func TestHostileSecondSIGTERM(t *testing.T) {
	testutil.CheckFDs(t)
	h := startHerd(t, nil, "-n", "1", "--kill-timeout", "10m", "--", "sh", "-c", "trap '' TERM; exec sleep 1000")
	pid := 0
	for p := range pidsOf(h.waitWorkers(1)) {
		pid = p
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.stderr.WaitFor(t, "msg=stop")
	if waitGone(pid, time.Second) {
		t.Fatalf("worker %d ignoring SIGTERM exited on the first", pid)
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	if code := h.wait(liveness); code != 5 {
		t.Fatalf("herd exited with %d after a second SIGTERM, want 5 (stopped by force)\nstderr:\n%s", code, h.stderr)
	}
	if !strings.Contains(h.stderr.String(), "stopped by force") {
		t.Errorf("no word of the forced stop in:\n%s", h.stderr)
	}
}

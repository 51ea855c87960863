package main_test

import (
	"strings"
	"testing"
	"time"
)

// TestHostileReloadCrashLoop: a reload while every worker crash-loops
// (they exit after 0.2 s, before herd counts them ready) ends, failed,
// naming the worker that never became ready, long before the bound of
// (ready timeout + kill timeout) per worker; herd keeps running.
func TestHostileReloadCrashLoop(t *testing.T) {
	t.Parallel()
	h := startHerd(t, nil, "-n", "2", "--restart-window", "500ms", "--ready-timeout", "5s", "--",
		"sh", "-c", "sleep 0.2; exit 3")
	h.waitControl()
	h.stderr.WaitFor(t, "restart")
	const bound = 2 * (5 + 10) * time.Second // 2 workers × (--ready-timeout + --kill-timeout)
	start := time.Now()
	_, errOut, code := h.herdCtl("reload", "--timeout", "45s")
	took := time.Since(start)
	t.Logf("herd reload: exit %d after %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(errOut))
	if code != 1 || !strings.Contains(errOut, "reload failed") || !strings.Contains(errOut, "before it was ready") {
		t.Fatalf("herd reload: exit %d, %q; want 1 and a failure naming the worker", code, errOut)
	}
	if took > bound {
		t.Fatalf("the reload took %s, over its bound %s", took, bound)
	}
	select {
	case <-h.done:
		t.Fatalf("herd exited (%d) during the crash loop", h.Code())
	default:
	}
}

// TestHostileReloadClientTimeout: herd reload --timeout gives up waiting
// (exit status 1, a message saying so) when the reload takes longer.
func TestHostileReloadClientTimeout(t *testing.T) {
	t.Parallel()
	h := startHerd(t, nil, "-n", "1", "--", "sleep", "1000")
	h.waitWorkers(1)
	_, errOut, code := h.herdCtl("reload", "--timeout", "100ms") // a worker is ready after 1 s running
	if code != 1 || !strings.Contains(errOut, "no answer from herd within --timeout 100ms") {
		t.Fatalf("herd reload --timeout 100ms: exit %d, %q; want 1 and the timeout named", code, errOut)
	}
	h.waitWorkers(1)
}

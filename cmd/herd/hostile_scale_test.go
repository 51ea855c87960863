package main_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestHostileScaleHuge: herd scale 100000 (a typo) is refused with a
// message and exit status 1; herd keeps its workers and goes on serving.
func TestHostileScaleHuge(t *testing.T) {
	t.Parallel()
	h := startGoWorkers(t, "2")
	u := url(t, h.waitWorkers(2))
	_, errOut, code := h.herdCtl("scale", "100000")
	if code != 1 || !strings.Contains(errOut, "too many workers") || !strings.Contains(errOut, "--max-workers") {
		t.Fatalf("herd scale 100000: exit %d, %q; want 1 and the limit named", code, errOut)
	}
	if st := h.waitWorkers(2); st.Desired != 2 {
		t.Fatalf("after the refused scale herd wants %d workers, want 2", st.Desired)
	}
	mustGet(t, u)
}

// TestHostileMaxWorkers: -n over --max-workers is a usage error (exit
// status 2); a scale over it is refused, a scale to it works, and herd
// answers status while it forks them.
func TestHostileMaxWorkers(t *testing.T) {
	t.Parallel()
	_, errOut, code := runHerdCmd(t, nil, "run", "--control", controlPath(t), "-n", "9", "--max-workers", "8", "--", "sleep", "1000")
	if code != 2 || !strings.Contains(errOut, "over --max-workers 8") {
		t.Fatalf("herd run -n 9 --max-workers 8: exit %d, %q; want 2", code, errOut)
	}
	h := startHerd(t, nil, "-n", "2", "--max-workers", "24", "--", "sleep", "1000")
	h.waitWorkers(2)
	if _, errOut, code := h.herdCtl("scale", "25"); code != 1 || !strings.Contains(errOut, "over the limit of 24") {
		t.Fatalf("herd scale 25 over --max-workers 24: exit %d, %q; want 1", code, errOut)
	}
	if _, errOut, code := h.herdCtl("scale", "24"); code != 0 {
		t.Fatalf("herd scale 24: exit %d: %s", code, errOut)
	}
	h.status() // answers while the workers are forked
	h.waitWorkers(24)
	scale(t, h, "2")
	h.waitWorkers(2)
}

// underUlimit runs herd through sh with ulimit -n files (soft and hard).
func underUlimit(files int) func(*exec.Cmd) {
	return func(c *exec.Cmd) {
		c.Path = "/bin/sh"
		c.Args = append([]string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files), herdBin}, c.Args[1:]...)
	}
}

// TestHostileMaxWorkersDerived: with no --max-workers, the limit comes
// from herd's RLIMIT_NOFILE: (512 - 256) / 8 = 32 workers.
func TestHostileMaxWorkersDerived(t *testing.T) {
	t.Parallel()
	ctl := controlPath(t)
	h := startCmdWith(t, ctl, nil, underUlimit(512), "run", "--control", ctl, "-n", "1", "--", "sleep", "1000")
	h.waitWorkers(1)
	if _, errOut, code := h.herdCtl("scale", "33"); code != 1 || !strings.Contains(errOut, "over the limit of 32") {
		t.Fatalf("herd scale 33 under ulimit -n 512: exit %d, %q; want 1 and a limit of 32", code, errOut)
	}
	h.waitWorkers(1)
}

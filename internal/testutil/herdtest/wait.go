package herdtest

import (
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// WaitWorkers waits until herd has exactly n workers, all ready, and
// returns that status; it fails the test if herd exits first or after
// testutil.Liveness.
func (h *Herd) WaitWorkers(n int) *control.Status {
	h.T.Helper()
	var st *control.Status
	var err error
	ok := testutil.Until(testutil.Liveness, pollEvery, func() bool {
		if !h.Running() {
			return true
		}
		st, err = h.Status()
		return err == nil && len(st.Workers) == n && AllReady(st)
	})
	if !h.Running() {
		h.T.Fatalf("herd exited with %d while waiting for %d ready workers\nstderr:\n%s", h.code, n, h.Stderr)
	}
	if !ok {
		h.T.Fatalf("want %d ready workers; status %+v, %v\nstderr:\n%s", n, st, err, h.Stderr)
	}
	return st
}

// WaitControl waits for herd to serve its control socket; it fails the
// test if herd exits first or after testutil.Liveness.
func (h *Herd) WaitControl() {
	h.T.Helper()
	var err error
	testutil.Until(testutil.Liveness, pollEvery, func() bool {
		_, err = h.Status()
		return err == nil || !h.Running()
	})
	if !h.Running() {
		h.T.Fatalf("herd exited with %d before serving its control socket\nstderr:\n%s", h.code, h.Stderr)
	}
	if err != nil {
		h.T.Fatalf("no control socket at %s: %v\nstderr:\n%s", h.Control, err, h.Stderr)
	}
}

// AllReady reports whether every worker in st is ready.
func AllReady(st *control.Status) bool {
	for _, w := range st.Workers {
		if w.State != "ready" {
			return false
		}
	}
	return true
}

// Pids is the set of the workers' pids in st.
func Pids(st *control.Status) map[int]bool {
	out := map[int]bool{}
	for _, w := range st.Workers {
		out[w.Pid] = true
	}
	return out
}

package main_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// TestPrimaryRuntime: herd's own process runs with one P and GOGC=50, or
// the GOGC in its environment, and its GOMAXPROCS does not leak to the
// workers: a worker still gets its share of the CPUs as GOMAXPROCS, or
// the GOMAXPROCS the user set in herd's environment.
func TestPrimaryRuntime(t *testing.T) {
	if runtime.NumCPU() < 2 || os.Getenv("GOMAXPROCS") != "" || os.Getenv("GOGC") != "" {
		t.Skip("needs 2 CPUs, and no GOMAXPROCS or GOGC in the test's environment, to tell the primary's settings from the workers'")
	}
	testutil.CheckFDs(t)
	for _, c := range []struct {
		env       []string
		procs     string  // the worker's GOMAXPROCS
		primaryGC float64 // the primary's GOGC
	}{
		{nil, strconv.Itoa(runtime.NumCPU()), 50},
		{[]string{"GOMAXPROCS=3", "GOGC=200"}, "3", 200},
	} {
		dir := t.TempDir()
		h := startHerd(t, append([]string{"HERD_TEST_DIR=" + dir}, c.env...), "-n", "1", "--metrics", "127.0.0.1:0", "--",
			"sh", "-c", `echo "$GOMAXPROCS" >"$HERD_TEST_DIR/procs"; exec sleep 1000`)
		st := h.waitWorkers(1)
		m := scrape(t, st.Metrics)
		if got := m["go_sched_gomaxprocs_threads"]; got != 1 {
			t.Errorf("%q: the primary's GOMAXPROCS is %v, want 1", c.env, got)
		}
		if got := m["go_gc_gogc_percent"]; got != c.primaryGC {
			t.Errorf("%q: the primary's GOGC is %v, want %v", c.env, got, c.primaryGC)
		}
		if got := workerFile(t, filepath.Join(dir, "procs")); got != c.procs {
			t.Errorf("%q: the worker's GOMAXPROCS is %q, want %q", c.env, got, c.procs)
		}
	}
}

// workerFile waits for a worker to write path and returns its first line.
func workerFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(liveness); ; time.Sleep(pollEvery) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker wrote %s", path)
		}
	}
}

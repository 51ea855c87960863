package proc_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/proc"
)

// TestCgroup: a child started in a cgroup keeps its setsid daemon
// there; Kill ends both, Remove takes the directories away.
func TestCgroup(t *testing.T) {
	testutil.CheckFDs(t)
	own, err := proc.OwnCgroup()
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	root, err := proc.MakeCgroup(filepath.Join(own, "herd-proctest-"+strconv.Itoa(os.Getpid())))
	if err != nil {
		t.Skipf("cannot create a cgroup v2 here: %v", err)
	}
	t.Cleanup(func() { root.Remove(liveness) })
	sub, err := root.Sub("w1")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "daemon")
	c := proc.Command("sh", "-c", `setsid sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >"$1"' sh "$0"; exec sleep 1000`, pidFile)
	c.Cgroup = sub.Dir
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	d := watchPID(t, readPid(t, pidFile))
	procs, _ := os.ReadFile(filepath.Join(sub.Dir, "cgroup.procs"))
	if !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(d.pid)) {
		t.Fatalf("the daemon %d is not in its worker's cgroup, which holds %q", d.pid, procs)
	}
	if !root.Populated() {
		t.Fatal("the cgroup is not populated")
	}
	if err := sub.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, c)
	d.waitGone(t)
	if err := root.Remove(liveness); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there: %v", root.Dir, err)
	}
}

// readPid waits for a pid in path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(liveness); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
	}
}

package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/proc"
)

// daemonWorker is a worker that starts a daemon as daemons start: setsid
// (a session and process group of its own), then a fork whose parent
// exits (the double fork), so that the daemon is neither the worker's
// child nor in its process group. The daemon's pid goes to
// $HERD_TEST_DIR/daemon-$HERD_WORKER_ID.
const daemonWorker = `setsid sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >"$HERD_TEST_DIR/daemon-$HERD_WORKER_ID"' && exec sleep 1000`

// reapers are the ways herd keeps its workers' descendants: each test
// runs with both where this machine has them.
var reapers = []string{"cgroup", "subreaper"}

// descendantsHerd starts herd with one daemonWorker and HERD_REAPER=mode;
// it skips the test, saying why, where mode cannot run here.
func descendantsHerd(t *testing.T, mode string) (*herdRun, string) {
	t.Helper()
	testutil.CheckFDs(t)
	if mode == "cgroup" {
		requireCgroup(t)
	}
	dir := t.TempDir()
	h := startHerd(t, []string{"HERD_TEST_DIR=" + dir, "HERD_REAPER=" + mode}, "-n", "1", "--", "sh", "-c", daemonWorker)
	return h, dir
}

// requireCgroup skips the test unless this process can create a cgroup
// v2 below its own, as herd would.
func requireCgroup(t *testing.T) {
	own, err := proc.OwnCgroup()
	if err == nil {
		var g proc.Cgroup
		if g, err = proc.MakeCgroup(filepath.Join(own, "herd-test-"+strconv.Itoa(os.Getpid()))); err == nil {
			g.Remove(time.Second)
		}
	}
	if err != nil {
		t.Skipf("no writable cgroup v2 here, so herd uses its subreaper: %v", err)
	}
}

// daemonOf waits for worker id's daemon and kills it when the test
// ends, whatever happened.
func daemonOf(t *testing.T, dir string, id int) int {
	t.Helper()
	path := filepath.Join(dir, "daemon-"+strconv.Itoa(id))
	for deadline := time.Now().Add(liveness); ; time.Sleep(pollEvery) {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			t.Cleanup(func() {
				if !waitGone(pid, 0) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d started no daemon", id)
		}
	}
}

// mustGo fails the test if pid still runs after workersGone, and
// reports how long it took.
func mustGo(t *testing.T, what string, pid int, since time.Time) {
	t.Helper()
	if !waitGone(pid, workersGone) {
		t.Errorf("%s %d still runs %s later", what, pid, workersGone)
		return
	}
	t.Logf("%s %d gone %s after", what, pid, time.Since(since).Round(time.Millisecond))
}

// TestHostileDaemonDiesWithWorker: a daemon a worker started (setsid,
// double fork) dies when the worker is killed and replaced, and when it
// is replaced by a reload.
func TestHostileDaemonDiesWithWorker(t *testing.T) {
	testutil.SkipIfShort(t, "a kill and a reload, each waiting for daemons to die (TestHostileDaemonDiesWithHerd is the fast one)")
	for _, mode := range reapers {
		t.Run(mode, func(t *testing.T) {
			h, dir := descendantsHerd(t, mode)
			st := h.waitWorkers(1)
			d1 := daemonOf(t, dir, 1)
			killed := time.Now()
			syscall.Kill(st.Workers[0].Pid, syscall.SIGKILL)
			mustGo(t, "worker 1's daemon", d1, killed)
			d2 := daemonOf(t, dir, 2)
			h.waitWorkers(1)
			reloaded := time.Now()
			if _, errOut, code := h.herdCtl("reload"); code != 0 {
				t.Fatalf("herd reload: exit %d: %s", code, errOut)
			}
			mustGo(t, "worker 2's daemon (reloaded)", d2, reloaded)
			daemonOf(t, dir, 3) // and the new worker's daemon runs
		})
	}
}

// TestHostileDaemonDiesWithHerd: after SIGKILL of herd, the worker and
// its daemon are gone, and so is herd's cgroup.
func TestHostileDaemonDiesWithHerd(t *testing.T) {
	for _, mode := range reapers {
		t.Run(mode, func(t *testing.T) {
			h, dir := descendantsHerd(t, mode)
			st := h.waitWorkers(1)
			d := daemonOf(t, dir, 1)
			if mode == "subreaper" { // herd must have seen it first: it scans every second
				h.stderr.WaitFor(t, "msg=adopt worker=1 pid="+strconv.Itoa(d)+" ")
			}
			cg := cgroupOf(t, h.cmd.Process.Pid, mode)
			killed := time.Now()
			h.cmd.Process.Signal(syscall.SIGKILL)
			h.wait(liveness)
			mustGo(t, "the worker", st.Workers[0].Pid, killed)
			mustGo(t, "the daemon", d, killed)
			if cg == "" {
				return
			}
			for deadline := time.Now().Add(workersGone); ; time.Sleep(pollEvery) {
				if _, err := os.Stat(cg); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("herd's cgroup %s is still there", cg)
					break
				}
			}
		})
	}
}

// cgroupOf is herd's cgroup for its workers (mode cgroup), or "".
func cgroupOf(t *testing.T, herd int, mode string) string {
	t.Helper()
	if mode != "cgroup" {
		return ""
	}
	own, err := proc.OwnCgroup()
	if err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(own, "herd-"+strconv.Itoa(herd))
	if _, err := os.Stat(filepath.Join(cg, "w1")); err != nil {
		t.Fatalf("worker 1's cgroup: %v", err)
	}
	return cg
}

package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// maxWorkerSockets is cluster.DefaultMaxWorkerSockets: what one worker
// may hold.
const maxWorkerSockets = 64

// fdCount is the number of descriptors process pid has open.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// rssKB is process pid's resident memory in KiB.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// idleFDs is the lowest of three readings of pid's descriptor count.
func idleFDs(t *testing.T, pid int) int {
	n := fdCount(t, pid)
	for range 2 {
		time.Sleep(50 * time.Millisecond)
		n = min(n, fdCount(t, pid))
	}
	return n
}

// workerByID returns the worker with id from a status, or fails.
func workerByID(t *testing.T, st *control.Status, id int) control.Worker {
	t.Helper()
	for _, w := range st.Workers {
		if w.ID == id {
			return w
		}
	}
	t.Fatalf("no worker %d in %+v", id, st.Workers)
	return control.Worker{}
}

// TestHostileWorkerSockets: under ulimit -n 1024, a worker asks herd for
// 3,000 sockets on distinct addresses. herd gives it 64 and refuses the
// rest with EMFILE, its descriptors stay within idle + 2 per socket (the
// socket and the round-robin dispatcher's copy) while the worker runs, a
// killed good worker is replaced meanwhile, and once the hostile worker
// is killed and replaced herd's descriptors are back to idle and its RSS
// within twice idle.
func TestHostileWorkerSockets(t *testing.T) {
	testutil.CheckFDs(t)
	trigger := filepath.Join(t.TempDir(), "go")
	ctl := controlPath(t)
	env := []string{testutil.EnvHelper + "=hostile", "HERD_TEST_ADDR=127.0.0.1:0", "HERD_TEST_GO=" + trigger}
	h := startCmdWith(t, ctl, env, underUlimit(1024), "run", "--control", ctl, "-n", "2", "-l", "127.0.0.1:0",
		"--max-restarts", "-1", "--", testBinary(t))
	u := url(t, h.waitWorkers(2))
	pid := h.cmd.Process.Pid
	idle, idleRSS := idleFDs(t, pid), rssKB(t, pid)
	bound := idle + 2*maxWorkerSockets + 16
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	most := idle
	for deadline := time.Now().Add(liveness); !strings.Contains(h.stdout.String(), "hostile done"); {
		most = max(most, fdCount(t, pid))
		if time.Now().After(deadline) {
			t.Fatalf("the hostile worker did not finish\nstderr:\n%s", h.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	most = max(most, fdCount(t, pid))
	t.Logf("herd's fds: %d idle, at most %d during the flood (bound %d); RSS %d KiB idle", idle, most, bound, idleRSS)
	if !strings.Contains(h.stdout.String(), "hostile done ok=63 refused=2937") {
		t.Fatalf("want 63 more sockets given (64 with its first) and 2937 refused:\n%s", h.stdout)
	}
	if most > bound {
		t.Fatalf("herd held %d descriptors during the flood, over %d", most, bound)
	}
	h.stderr.waitFor(t, "refusing its further sockets")

	replaceKilled(t, h, 2)
	mustGet(t, u)
	replaceKilled(t, h, 1)
	polled(t, "herd's descriptors back to idle", func() bool { return fdCount(t, pid) <= idle })
	polled(t, "herd's RSS within twice idle", func() bool { return rssKB(t, pid) <= 2*idleRSS })
	t.Logf("after: %d fds, RSS %d KiB", fdCount(t, pid), rssKB(t, pid))
	mustGet(t, u)
}

// replaceKilled kills worker id with SIGKILL and waits until herd has
// replaced it: two ready workers again, without it.
func replaceKilled(t *testing.T, h *herdRun, id int) {
	t.Helper()
	victim := workerByID(t, h.status(), id)
	syscall.Kill(victim.Pid, syscall.SIGKILL)
	polled(t, "worker "+strconv.Itoa(id)+" replaced", func() bool {
		st := h.status()
		return len(st.Workers) == 2 && allReady(st) && !pidsOf(st)[victim.Pid]
	})
}

// polled polls cond until it holds, for up to liveness.
func polled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollEvery)
	}
}

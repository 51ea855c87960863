package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// defaultWorkerSockets is cluster.DefaultMaxWorkerSockets: what one
// worker may hold unless --max-worker-sockets says otherwise.
const defaultWorkerSockets = 64

// hostileDone is what a hostile worker prints after 3,000 requests when
// it may hold perWorker sockets, its first (on the app's port) included.
func hostileDone(perWorker int) string {
	return fmt.Sprintf("hostile done ok=%d refused=%d", perWorker-1, 3000-(perWorker-1))
}

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

// TestHostileWorkerSockets: under ulimit -n 1024, a worker of herd's Go
// library asks herd for 3,000 sockets on distinct addresses; with
// --max-worker-sockets 16 herd gives it 16, refuses the rest with EMFILE
// and survives (survivesFlood).
func TestHostileWorkerSockets(t *testing.T) {
	testutil.CheckFDs(t)
	trigger := filepath.Join(t.TempDir(), "go")
	ctl := controlPath(t)
	env := []string{testutil.EnvHelper + "=hostile", "HERD_TEST_ADDR=127.0.0.1:0", "HERD_TEST_GO=" + trigger}
	h := startCmdWith(t, ctl, env, underUlimit(1024), "run", "--control", ctl, "-n", "2", "-l", "127.0.0.1:0",
		"--max-restarts", "-1", "--max-worker-sockets", "16", "--", testBinary(t))
	survivesFlood(t, h, trigger, url(t, h.waitWorkers(2)), 16)
}

// survivesFlood checks herd through a flood of socket requests by worker
// 1, which starts when the trigger file exists, and may hold perWorker
// sockets: it must get that many (its first and the rest), and herd's descriptors stay within
// idle + 2 per socket (the socket and the round-robin dispatcher's copy),
// it logs the refusal, a killed good worker (2) is replaced meanwhile, and
// once worker 1 is killed and replaced herd's descriptors are back to
// idle and its RSS within twice idle. u must answer throughout.
func survivesFlood(t *testing.T, h *herdRun, trigger, u string, perWorker int) {
	t.Helper()
	pid, want := h.cmd.Process.Pid, hostileDone(perWorker)
	idle, idleRSS := idleFDs(t, pid), rssKB(t, pid)
	bound := idle + 2*perWorker + 16
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
	if !strings.Contains(h.stdout.String(), want) {
		t.Fatalf("want %q:\n%s", want, h.stdout)
	}
	if most > bound {
		t.Fatalf("herd held %d descriptors during the flood, over %d", most, bound)
	}
	h.stderr.WaitFor(t, "refusing its further sockets")

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
func polled(t *testing.T, what string, cond func() bool) { testutil.Poll(t, pollEvery, what, cond) }

// nodeHostile is a Node app that serves on PORT; worker 1, once the file
// GO exists, also listens on port 0 3,000 times (each server a new
// queryServer index, so a socket of its own in herd), keeping every
// server, and prints "hostile done ok=N refused=M".
const nodeHostile = `
const http = require('http'), net = require('net'), fs = require('fs');
http.createServer((req, res) => res.end('node ' + process.pid + '\n')).listen(+process.env.PORT);
if (process.env.HERD_WORKER_ID === '1') {
  let ok = 0, refused = 0, n = 0;
  const next = () => {
    if (n++ >= 3000) return console.log('hostile done ok=' + ok + ' refused=' + refused);
    const s = net.createServer();
    s.once('error', (e) => { if (e.code === 'EMFILE') refused++; else console.log('hostile: listen: ' + e.code); next(); });
    s.listen(0, '127.0.0.1', () => { ok++; next(); });
  };
  const wait = () => fs.existsSync(process.env.GO) ? next() : setTimeout(wait, 20);
  wait();
}
`

// TestHostileNodeSockets is TestHostileWorkerSockets for a Node worker
// and the default limit (64): 3,000 servers on port 0, under ulimit -n
// 1024.
func TestHostileNodeSockets(t *testing.T) {
	testutil.SkipIfShort(t, "3,000 Node servers (TestHostileWorkerSockets is the fast one)")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	testutil.CheckFDs(t)
	dir := t.TempDir()
	trigger, app, port := filepath.Join(dir, "go"), writeFile(t, dir, "app.js", nodeHostile), freePort(t)
	ctl := controlPath(t)
	h := startCmdWith(t, ctl, []string{"PORT=" + port, "GO=" + trigger}, underUlimit(1024), "run", "--control", ctl,
		"-n", "2", "--max-restarts", "-1", "--", "node", app)
	h.waitWorkers(2)
	survivesFlood(t, h, trigger, "http://127.0.0.1:"+port+"/", defaultWorkerSockets)
}

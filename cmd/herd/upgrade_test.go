package main_test

import (
	"context"
	"net/http"
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

// pythonGraceful serves HTTP/1.1 (keep-alive) on the socket passed as
// fd 3, says READY=1, and on SIGTERM stops accepting, answers each later
// request on an open connection with "Connection: close", and exits
// after a grace: a worker that drains as herd's own do.
const pythonGraceful = `
import http.server, os, signal, socket, threading, time

draining = threading.Event()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("python %d\n" % os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        pass
    def server_activate(self):
        pass

srv = Server(("", 0), Handler, bind_and_activate=False)
srv.socket.close()
srv.socket = socket.socket(fileno=3)
srv.socket.setblocking(False)

def stop(*_):
    draining.set()
    threading.Thread(target=srv.shutdown).start()

signal.signal(signal.SIGTERM, stop)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1")
s.close()
srv.serve_forever(poll_interval=0.05)
time.sleep(1.5)
os._exit(0)
`

// upgradeHerd runs herd upgrade and returns the new herd's status, after
// checking that the old herd and its workers are gone.
func upgradeHerd(t *testing.T, h *herdRun, workers int, args ...string) *control.Status {
	t.Helper()
	before := h.status()
	out, errOut, code := h.herdCtl(append([]string{"upgrade"}, args...)...)
	if code != 0 {
		t.Fatalf("herd upgrade: exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "upgraded: the new herd is pid ") {
		t.Fatalf("herd upgrade said %q", out)
	}
	if !waitGone(before.Pid, liveness) {
		t.Fatalf("the old herd (pid %d) still runs", before.Pid)
	}
	for pid := range pidsOf(before) {
		if !waitGone(pid, workersGone) {
			t.Fatalf("the old herd's worker %d still runs", pid)
		}
	}
	after := h.waitWorkers(workers)
	if after.Pid == before.Pid || strings.Fields(out)[len(strings.Fields(out))-1] != strconv.Itoa(after.Pid) {
		t.Fatalf("herd's pid was %d and is %d; herd upgrade said %q", before.Pid, after.Pid, out)
	}
	if strings.Join(after.Listen, ",") != strings.Join(before.Listen, ",") {
		t.Fatalf("herd listened on %v and now on %v", before.Listen, after.Listen)
	}
	for pid := range pidsOf(after) {
		if pidsOf(before)[pid] {
			t.Fatalf("worker %d survived the upgrade", pid)
		}
	}
	return after
}

// stopUpgraded stops whichever herd serves h's control socket when the
// test ends (before h's own cleanup, which waits for herd's output to
// close) and checks it is gone.
func stopUpgraded(t *testing.T, h *herdRun) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), liveness)
		defer cancel()
		st, err := control.Call(ctx, h.ctl, control.Request{Cmd: control.CmdStatus})
		if err != nil {
			return
		}
		h.herdCtl("stop")
		if !waitGone(st.Status.Pid, liveness) {
			t.Errorf("herd %d did not stop", st.Status.Pid)
			syscall.Kill(st.Status.Pid, syscall.SIGKILL)
		}
	})
}

// loadBoth sends requests while f runs, and a little after, from two
// clients that connect for each request and two that keep their
// connections alive, and counts the answers (loadWith).
func loadBoth(t *testing.T, url string, f func()) (ok, failed int64) {
	t.Helper()
	keep := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 10 * time.Second}
	defer keep.CloseIdleConnections()
	return loadWith(t, url, []*http.Client{client, keep, client, keep}, 300*time.Millisecond, f)
}

// upgradeUnderLoad upgrades h under load and checks that no request
// failed.
func upgradeUnderLoad(t *testing.T, h *herdRun, u string, workers int, args ...string) *control.Status {
	t.Helper()
	var after *control.Status
	ok, failed := loadBoth(t, u, func() { after = upgradeHerd(t, h, workers, args...) })
	t.Logf("during the upgrade: %d requests ok, %d failed", ok, failed)
	if failed != 0 || ok == 0 {
		t.Fatalf("during the upgrade: %d requests ok, %d failed", ok, failed)
	}
	return after
}

// TestUpgradePython upgrades a herd of Python workers (socket activation,
// READY=1) under load: no request fails, the port stays, herd's pid and
// the workers change, and --metrics keeps its port.
func TestUpgradePython(t *testing.T) {
	testutil.CheckFDs(t)
	path := filepath.Join(t.TempDir(), "worker.py")
	if err := os.WriteFile(path, []byte(pythonGraceful), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr := "127.0.0.1:" + freePort(t)
	h := startHerd(t, nil, "-n", "2", "-l", "127.0.0.1:0", "--metrics", metricsAddr, "--", "python3", path)
	stopUpgraded(t, h)
	st := h.waitWorkers(2)
	upgradeUnderLoad(t, h, url(t, st), 2)
	if body := mustGet(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(body, "herd_") {
		t.Fatalf("no metrics after the upgrade:\n%s", body)
	}
}

// TestUpgradeGoWorkers upgrades a herd of Go library workers (round
// robin through herd) under load, five times in a row: no request
// fails, and no descriptor or process is left behind.
func TestUpgradeGoWorkers(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "2")
	stopUpgraded(t, h)
	st := h.waitWorkers(2)
	u := url(t, st)
	first := st
	for i := 0; i < 5; i++ {
		st = upgradeUnderLoad(t, h, u, 2)
	}
	if st.FDs > first.FDs+2 {
		t.Fatalf("herd had %d descriptors open, and %d after five upgrades", first.FDs, st.FDs)
	}
	dir := filepath.Dir(h.ctl)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 { // c.sock and one notify socket
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("the control directory holds %v, want c.sock and one notify socket", names)
	}
}

// copyHerd copies herd's binary into a directory of the test's, so that
// the test may replace it.
func copyHerd(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(herdBin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "herd")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceFile puts content at path by renaming a new file over it, as a
// package manager does.
func replaceFile(t *testing.T, path string, write func(tmp string)) {
	t.Helper()
	tmp := path + ".new"
	write(tmp)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startHerdAt is startHerd with the herd binary at bin.
func startHerdAt(t *testing.T, bin string, env []string, args ...string) *herdRun {
	t.Helper()
	ctl := controlPath(t)
	return startCmdWith(t, ctl, env, func(c *exec.Cmd) { c.Path = bin; c.Args[0] = bin },
		append([]string{"run", "--control", ctl}, args...)...)
}

// TestUpgradeNewBinary replaces herd's binary with a build of another
// version and upgrades: the new version serves, and says so.
func TestUpgradeNewBinary(t *testing.T) {
	bin := copyHerd(t)
	h := startHerdAt(t, bin, goWorkerEnv(), "-n", "2", "-l", "127.0.0.1:0", "--", testBinary(t))
	stopUpgraded(t, h)
	st := h.waitWorkers(2)
	if st.Version == "v9.9.9-upgrade" {
		t.Fatalf("herd says version %q before the upgrade", st.Version)
	}
	replaceFile(t, bin, func(tmp string) {
		cmd := exec.Command("go", "build", "-o", tmp, "-ldflags", "-X main.version=v9.9.9-upgrade", "github.com/herdhq/herd/cmd/herd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	})
	after := upgradeUnderLoad(t, h, url(t, st), 2)
	if after.Version != "v9.9.9-upgrade" {
		t.Fatalf("after the upgrade herd says version %q, want v9.9.9-upgrade", after.Version)
	}
}

// TestUpgradeRollback replaces herd's binary with one that exits at once:
// herd upgrade fails, saying why, and the old herd serves on, failing no
// request.
func TestUpgradeRollback(t *testing.T) {
	bin := copyHerd(t)
	h := startHerdAt(t, bin, goWorkerEnv(), "-n", "2", "-l", "127.0.0.1:0", "--", testBinary(t))
	st := h.waitWorkers(2)
	replaceFile(t, bin, func(tmp string) {
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\necho broken herd >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	var errOut string
	var code int
	ok, failed := loadBoth(t, url(t, st), func() { _, errOut, code = h.herdCtl("upgrade") })
	if code != 1 || !strings.Contains(errOut, "upgrade failed (this herd serves on)") || !strings.Contains(errOut, "exit status 1") {
		t.Fatalf("herd upgrade: exit %d, %q; want 1 and the reason", code, errOut)
	}
	if failed != 0 || ok == 0 {
		t.Fatalf("during the failed upgrade: %d requests ok, %d failed", ok, failed)
	}
	after := h.waitWorkers(2)
	if after.Pid != st.Pid || !samePids(pidsOf(after), pidsOf(st)) {
		t.Fatalf("herd and workers were %d %v, now %d %v", st.Pid, pidsOf(st), after.Pid, pidsOf(after))
	}
	mustGet(t, url(t, after))
}

// TestUpgradeNode upgrades a herd of unmodified Node workers under load,
// round robin and reuseport: no request fails.
func TestUpgradeNode(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	for _, policy := range []string{"rr", "reuseport"} {
		t.Run(policy, func(t *testing.T) {
			testutil.CheckFDs(t)
			port := freePort(t)
			app := writeFile(t, t.TempDir(), "app.js", nodeApp)
			h := startHerd(t, []string{"PORT=" + port}, "-n", "2", "--policy", policy, "--", "node", app)
			stopUpgraded(t, h)
			h.waitWorkers(2)
			u := "http://127.0.0.1:" + port + "/"
			mustGet(t, u)
			upgradeUnderLoad(t, h, u, 2)
			mustGet(t, u)
		})
	}
}

// TestUpgradeSignal: SIGUSR2 upgrades herd as herd upgrade does.
func TestUpgradeSignal(t *testing.T) {
	h := startGoWorkers(t, "1")
	stopUpgraded(t, h)
	st := h.waitWorkers(1)
	syscall.Kill(st.Pid, syscall.SIGUSR2)
	if !waitGone(st.Pid, liveness) {
		t.Fatalf("the old herd (pid %d) still runs after SIGUSR2", st.Pid)
	}
	if after := h.waitWorkers(1); after.Pid == st.Pid {
		t.Fatalf("herd's pid is still %d", st.Pid)
	}
	mustGet(t, url(t, st))
}

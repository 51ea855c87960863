package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// pythonWorker serves HTTP on the socket systemd-style activation passed
// as fd 3, after checking LISTEN_PID, and says READY=1 on NOTIFY_SOCKET.
// It answers "python PID WORKER_ID FDNAME".
const pythonWorker = `
import http.server, os, socket, sys

if os.environ.get("LISTEN_PID") != str(os.getpid()):
    sys.exit("LISTEN_PID is %r, not my pid %d" % (os.environ.get("LISTEN_PID"), os.getpid()))
if os.environ.get("LISTEN_FDS") != "1":
    sys.exit("LISTEN_FDS is %r" % os.environ.get("LISTEN_FDS"))
name = os.environ.get("LISTEN_FDNAMES", "")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("python %d %s %s\n" % (os.getpid(), os.environ.get("HERD_WORKER_ID"), name)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class Server(http.server.HTTPServer):
    def server_bind(self):
        pass
    def server_activate(self):
        pass

srv = Server(("", 0), Handler, bind_and_activate=False)
srv.socket.close()
srv.socket = socket.socket(fileno=3)
print("python worker up", flush=True)
ns = os.environ.get("NOTIFY_SOCKET")
if ns:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(ns)
    s.send(b"READY=1")
    s.close()
srv.serve_forever()
`

// writePython writes the Python worker into a temporary directory.
func writePython(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "worker.py")
	if err := os.WriteFile(path, []byte(pythonWorker), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPythonListenFDs runs a Python worker that knows nothing of herd but
// socket activation and sd_notify.
func TestPythonListenFDs(t *testing.T) {
	testutil.CheckFDs(t)
	h := startHerd(t, nil, "-n", "2", "-l", "web=127.0.0.1:0", "--", "python3", writePython(t))
	st := h.waitWorkers(2)
	pids := pidsOf(st)
	for i := 0; i < 20; i++ {
		f := strings.Fields(mustGet(t, url(t, st)))
		if len(f) != 4 || f[0] != "python" || f[3] != "web" {
			t.Fatalf("answer %q, want python PID ID web", f)
		}
		if pid, _ := strconv.Atoi(f[1]); !pids[pid] {
			t.Fatalf("answered by pid %d, not a worker of %v", pid, pids)
		}
	}
	for pid := range pids {
		h.stdout.WaitFor(t, ":"+strconv.Itoa(pid)+"] python worker up")
	}
	if _, errOut, code := h.herdCtl("stop"); code != 0 {
		t.Fatalf("herd stop: exit %d: %s", code, errOut)
	}
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd exited with %d after a stop", code)
	}
}

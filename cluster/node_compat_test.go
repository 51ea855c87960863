package cluster_test

// Scenarios of Node's own cluster tests (test/parallel/test-cluster-*.js),
// written for herd's primary: the real node binary runs each app as an
// unmodified cluster worker.

import (
	"context"
	"errors"
	"golang.org/x/sys/unix"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

var allPolicies = []cluster.Policy{cluster.RoundRobin, cluster.Shared, cluster.ReusePort, cluster.LeastConn}

// nodeUnixApp serves HTTP on the Unix socket path SOCK, with the listen
// options in OPTS (JSON).
const nodeUnixApp = `require('http').createServer((req, res) => res.end(String(process.pid)))
  .listen(Object.assign({path: process.env.SOCK}, JSON.parse(process.env.OPTS || '{}')));
`

// unixClient is an HTTP client that dials the Unix socket path.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}
}

// test-cluster-net-listen-relative-path: a relative socket path whose
// absolute form is longer than a socket address holds. The worker sends
// the absolute path; the primary binds the shorter relative one.
func TestNodeUnixRelativePath(t *testing.T) {
	for _, pol := range testutil.FirstIfShort(allPolicies) { // t.Chdir: not in parallel
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			dir := t.TempDir()
			t.Chdir(dir)
			rel := filepath.Join(strings.Repeat("d", 60), strings.Repeat("e", 30)+".sock")
			if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
				t.Fatal(err)
			}
			if abs := filepath.Join(dir, rel); len(abs) <= 107 {
				t.Fatalf("absolute path %q fits a socket address: the test needs a longer one", abs)
			}
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeUnixApp, "SOCK="+rel)
			h.waitReady(2)
			client := unixClient(rel)
			defer client.CloseIdleConnections()
			t.Logf("spread %v", spread(t, h, func() string { return getWith(t, client, "http://app/") }))
			stopClean(t, h)
			if _, err := os.Stat(rel); err == nil {
				t.Error("the socket file outlived the cluster")
			}
		})
	}
}

// listen({path, readableAll, writableAll}) in a worker: as Node's primary,
// herd adds read and write permission for everyone to the socket's mode.
func TestNodeUnixReadableWritableAll(t *testing.T) {
	for _, tc := range []struct {
		opts string
		add  os.FileMode
	}{
		{`{"readableAll":true,"writableAll":true}`, 0o666},
		{`{"readableAll":true}`, 0o444},
		{`{"writableAll":true}`, 0o222},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			testutil.CheckFDs(t)
			sock := filepath.Join(t.TempDir(), "app.sock")
			h := startNode(t, cluster.Config{Workers: 1}, nodeUnixApp, "SOCK="+sock, "OPTS="+tc.opts)
			h.waitReady(1)
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if want := (0o777 &^ umask(t)) | tc.add; fi.Mode().Perm() != want {
				t.Errorf("socket mode %o, want %o", fi.Mode().Perm(), want)
			}
			getWith(t, unixClient(sock), "http://app/")
			stopClean(t, h)
		})
	}
}

// umask reads the process's umask without changing it.
func umask(t *testing.T) os.FileMode {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatal(err)
			}
			return os.FileMode(n)
		}
	}
	t.Fatal("no Umask in /proc/self/status")
	return 0
}

// nodeListenReport listens on PORT (on HOST if set) and reports the
// listen's outcome to the primary; a failed listen keeps the worker
// alive, as an app that handles the server's 'error' does.
const nodeListenReport = `const srv = require('http').createServer((req, res) => res.end(String(process.pid)));
srv.on('error', (e) => process.send({listen: e.code}));
srv.listen({port: Number(process.env.PORT), host: process.env.HOST || undefined}, () => process.send({listen: 'ok'}));
process.on('message', () => {}); // alive until the primary disconnects it
`

// foreignReusePort listens on a free 127.0.0.1 port with SO_REUSEPORT, as
// another program of the same user may; it returns the port.
func foreignReusePort(t *testing.T) string {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// listenErrorFor waits for the error event of a listen the primary
// refused a worker, and checks that it names the address and errno.
func (h *harness) listenErrorFor(port, errno string) cluster.Event {
	h.t.Helper()
	var found cluster.Event
	testutil.Eventually(h.t, "a listen error event", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.events {
			if e.Type == cluster.EventError && strings.HasSuffix(e.Addr, ":"+port) {
				found = e
				return true
			}
		}
		return false
	})
	if found.WorkerID == 0 || found.Detail != "errno="+errno {
		h.t.Fatalf("listen error event %s: want a worker and errno=%s", found, errno)
	}
	return found
}

// Under reuseport, herd never joins a SO_REUSEPORT group it did not make:
// another program's group on the address (or another herd's) is
// EADDRINUSE for the app, and a log line.
func TestNodeReusePortForeignGroup(t *testing.T) {
	t.Run("program", func(t *testing.T) {
		testutil.CheckFDs(t)
		port := foreignReusePort(t)
		h := startNode(t, cluster.Config{Workers: 1, Policy: cluster.ReusePort, ReadyTimeout: time.Minute},
			nodeListenReport, "PORT="+port, "HOST=127.0.0.1")
		h.listenErrorFor(port, "EADDRINUSE")
		if h.count(cluster.EventReady) != 0 {
			t.Fatal("a worker is ready on another program's SO_REUSEPORT group")
		}
		h.stop()
	})
	t.Run("herd", func(t *testing.T) {
		testutil.CheckFDs(t)
		first := startNode(t, cluster.Config{Workers: 1, Policy: cluster.ReusePort}, nodeHTTP, "PORT=0")
		first.waitReady(1)
		_, port, _ := net.SplitHostPort(first.local())
		second := startNode(t, cluster.Config{Workers: 1, Policy: cluster.ReusePort, ReadyTimeout: time.Minute},
			nodeListenReport, "PORT="+port)
		second.listenErrorFor(port, "EADDRINUSE")
		if second.count(cluster.EventReady) != 0 {
			t.Fatal("a second herd's worker joined the first herd's SO_REUSEPORT group")
		}
		second.stop()
		stopClean(t, first)
	})
}

// A port another program holds: the worker gets EADDRINUSE, herd logs it,
// and the worker, still starting, is a failed start: the cluster gives up
// after MaxRestarts, naming the address, instead of waiting for
// ReadyTimeout again and again.
func TestNodeListenInUseGivesUp(t *testing.T) {
	testutil.CheckFDs(t) // once for the policies, which run in parallel
	for _, pol := range allPolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			_, port, _ := net.SplitHostPort(l.Addr().String())
			cfg := cluster.Config{Workers: 1, Policy: pol, MaxRestarts: 1, ReadyTimeout: 10 * time.Minute, BackoffMin: time.Millisecond}
			h := startNode(t, cfg, nodeListenReport, "PORT="+port)
			h.listenErrorFor(port, "EADDRINUSE")
			var runErr error
			select {
			case runErr = <-h.errc:
				h.errc <- runErr
			case <-time.After(60 * time.Second):
				t.Fatal("the cluster did not give up on a port in use")
			}
			if !errors.Is(runErr, cluster.ErrGaveUp) || !strings.Contains(runErr.Error(), ":"+port) ||
				!strings.Contains(runErr.Error(), "address already in use") {
				t.Fatalf("Run: %v; want a give-up naming :%s and the error", runErr, port)
			}
		})
	}
}

// test-cluster-eaddrinuse: a worker whose listen failed and that then
// listens elsewhere is a worker that started: it is not killed.
func TestNodeListenRetryStarts(t *testing.T) {
	testutil.CheckFDs(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	const app = `const http = require('http');
const srv = http.createServer((req, res) => res.end(String(process.pid)));
srv.once('error', () => srv.listen(0, '127.0.0.1'));
srv.listen(Number(process.env.PORT), '127.0.0.1');
`
	h := startNode(t, cluster.Config{Workers: 1, MaxRestarts: 1}, app, "PORT="+port)
	h.listenErrorFor(port, "EADDRINUSE")
	h.waitReady(1)
	time.Sleep(2 * time.Second) // past the failed-start grace
	pid := h.workers()[0].Pid
	if got := get(t, "http://"+h.local()+"/"); got != strconv.Itoa(pid) {
		t.Fatalf("answer %q from worker %d", got, pid)
	}
	stopClean(t, h)
}

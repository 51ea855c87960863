package main_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// nodeApps is the directory of the Express and Fastify apps, whose
// node_modules .ci/run installs from the committed package-lock.json.
const nodeApps = "testdata/nodeapps"

// needNodeModules returns the apps' directory, absolute; without
// node_modules the test is skipped (or fails, when CI is set).
func needNodeModules(t *testing.T) string {
	t.Helper()
	needTool(t, "node", "apt-get install nodejs")
	dir, err := filepath.Abs(nodeApps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return dir
	}
	const how = "run npm ci --no-audit --no-fund in cmd/herd/testdata/nodeapps"
	if os.Getenv("CI") != "" {
		t.Fatalf("no node_modules in %s (%s), and CI is set", dir, how)
	}
	t.Skipf("no node_modules in %s: %s (.ci/run does; with CI set the test fails)", dir, how)
	return ""
}

// slowNode puts a "node" first in PATH that waits before it runs the real
// one: node takes longer than herd's one-second rule to boot, as it does
// on a loaded machine. It returns the environment for herd.
func slowNode(t *testing.T, delay string) []string {
	t.Helper()
	real := needTool(t, "node", "apt-get install nodejs")
	dir := t.TempDir()
	script := "#!/bin/sh\nsleep " + delay + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "node"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// cpuHog keeps every CPU busy until the test ends (at most two minutes).
func cpuHog(t *testing.T) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				if n%1_000_000 == 0 && time.Now().After(deadline) {
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		stop.Store(true)
		wg.Wait()
	})
}

// readyAfterListen checks herd's log: every worker's "ready" line comes
// after its first "listening" line.
func readyAfterListen(t *testing.T, log string) {
	t.Helper()
	listening := map[string]bool{}
	ready := 0
	for _, line := range strings.Split(log, "\n") {
		id := field(line, "worker=")
		switch {
		case id == "":
		case strings.Contains(line, "msg=listening "):
			listening[id] = true
		case strings.Contains(line, "msg=ready "):
			ready++
			if !listening[id] {
				t.Errorf("worker %s ready before it listened: %s", id, line)
			}
		}
	}
	if ready == 0 {
		t.Error("no ready line in herd's log")
	}
}

// field returns the value of a key=value field of a log line.
func field(line, key string) string {
	i := strings.Index(line, " "+key)
	if i < 0 {
		return ""
	}
	v := line[i+1+len(key):]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// TestNodeFrameworksReady runs an Express and a Fastify app, unmodified,
// that start slowly (node boots in more than a second, under a CPU hog;
// Fastify's plugins take two more): each worker is ready only once its
// server listens, and a reload under load fails no request, whatever the
// policy.
func TestNodeFrameworksReady(t *testing.T) {
	dir := needNodeModules(t)
	for _, app := range []string{"express", "fastify"} {
		for _, pol := range []string{"rr", "shared", "reuseport", "leastconn"} {
			t.Run(app+"/"+pol, func(t *testing.T) {
				testutil.CheckFDs(t)
				cpuHog(t)
				port := freePort(t)
				env := append(slowNode(t, "1.5"), "PORT="+port)
				args := []string{"run", "--control", controlPath(t), "-n", "2", "--policy", pol, "--kill-timeout", "30s", "--", "node", app + ".js"}
				h := startCmdWith(t, args[2], env, func(c *exec.Cmd) { c.Dir = dir }, args...)
				h.waitWorkers(2)
				u := "http://127.0.0.1:" + port + "/"
				if got := mustGet(t, u); !strings.HasPrefix(got, app+" ") {
					t.Fatalf("answer %q", got)
				}
				if ok, failed := loadDuring(t, u, func() { h.herdCtl("reload") }); failed != 0 || ok == 0 {
					t.Fatalf("during the reload: %d requests ok, %d failed", ok, failed)
				}
				readyAfterListen(t, h.stderr.String())
				if _, errOut, code := h.herdCtl("stop"); code != 0 {
					t.Fatalf("herd stop: exit %d: %s", code, errOut)
				}
				if code := h.wait(liveness); code != 0 {
					t.Fatalf("herd exited with %d after a stop", code)
				}
			})
		}
	}
}

// TestNodePortInUseGivesUp: a Node app whose port another program holds.
// herd logs the worker's listen error (worker, address, errno), counts
// the worker as a failed start, and gives up (exit status 4) with a
// message that names the address, instead of restarting it forever.
func TestNodePortInUseGivesUp(t *testing.T) {
	testutil.SkipIfShort(t, "restarts until herd gives up (cluster's TestNodeListenInUseGivesUp is the fast one)")
	needTool(t, "node", "apt-get install nodejs")
	testutil.CheckFDs(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	// The app handles the error and stays up, as many do: only herd can
	// tell that it will never serve.
	app := writeFile(t, t.TempDir(), "app.js", `const srv = require('http').createServer((req, res) => res.end('hi'));
srv.on('error', (e) => console.error('listen failed:', e.code));
srv.listen(Number(process.env.PORT), '127.0.0.1');
process.on('message', () => {});
`)
	h := startHerd(t, []string{"PORT=" + port}, "-n", "1", "--max-restarts", "2", "--", "node", app)
	if code := h.wait(liveness); code != 4 {
		t.Fatalf("herd exited with %d, want 4 (gave up)", code)
	}
	log := h.stderr.String()
	if !stderrHas(h, "msg=error worker=", "addr=\"tcp 127.0.0.1:"+port+"\" detail=\"errno=EADDRINUSE\"") {
		t.Fatalf("no listen error line with the worker, address and errno:\n%s", log)
	}
	if !stderrHas(h, "msg=giveup", "127.0.0.1:"+port+": bind: address already in use") {
		t.Fatalf("the give-up does not name the address:\n%s", log)
	}
}

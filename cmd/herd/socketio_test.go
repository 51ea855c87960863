package main_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// socketioDir holds an unmodified socket.io app, its clients, and the
// package-lock of the real npm packages (npm ci, as .ci/run does).
var socketioDir = filepath.Join("testdata", "socketio")

// sioRound is one round of testdata/socketio/client.js.
type sioRound struct {
	Round  int            `json:"round"`
	Echoed int            `json:"echoed"`
	Pids   map[string]int `json:"pids"`
	Heard  int            `json:"heard"`
	Socks  any            `json:"sockets"`
	Errors []string       `json:"errors"`
}

// TestSocketIO runs an unmodified socket.io 4 app with the cluster adapter
// under "herd run -n 4 --policy sticky": 100 clients on the polling
// transport, each from its own loopback address (or, with --sticky-header
// X-Forwarded-For, all from 127.0.0.1), connect and echo (every polling
// request of a session reaches its worker), are spread over the workers,
// all hear a broadcast from one client and io.fetchSockets() finds all
// 100 (herd relays the adapter's messages, and its answers to the worker
// that asked), and after a herd reload reconnect to the new workers and
// work again. Under rr, the clients fail ("xhr poll error").
func TestSocketIO(t *testing.T) {
	needSocketIO(t)
	for _, tc := range []struct{ name, mode string }{{"address", "addr"}, {"header", "header"}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-n", "4", "--policy", "sticky", "--kill-timeout", "3s"}
			if tc.mode == "header" {
				args = append(args, "--sticky-header", "X-Forwarded-For")
			}
			testSocketIO(t, tc.mode, args)
		})
	}
}

func testSocketIO(t *testing.T, mode string, args []string) {
	port := freePort(t)
	h := startHerd(t, []string{"PORT=" + port}, append(args, "--", "node", filepath.Join(socketioDir, "server.js"))...)
	before := pidsOf(h.waitWorkers(4))
	c := startSIOClients(t, "http://127.0.0.1:"+port, mode)
	r := c.round(t)
	checkSIORound(t, r, before)
	if len(r.Pids) != 4 {
		t.Errorf("clients reached %d of 4 workers: %v", len(r.Pids), r.Pids)
	}
	for pid, n := range r.Pids {
		if n < 5 {
			t.Errorf("worker %s got %d of 100 clients: %v", pid, n, r.Pids)
		}
	}
	if _, errOut, code := h.herdCtl("reload"); code != 0 {
		t.Fatalf("herd reload: exit %d: %s", code, errOut)
	}
	after := pidsOf(h.waitWorkers(4))
	checkSIORound(t, c.round(t), after)
}

// checkSIORound wants every client to have echoed, from the workers pids,
// and heard the broadcast.
func checkSIORound(t *testing.T, r sioRound, pids map[int]bool) {
	t.Helper()
	if r.Echoed != 100 || r.Heard != 100 || r.Socks != 100.0 || len(r.Errors) > 0 {
		t.Fatalf("round %d: %d of 100 clients echoed, %d heard the broadcast, fetchSockets found %v; errors: %q",
			r.Round, r.Echoed, r.Heard, r.Socks, r.Errors)
	}
	for pid := range r.Pids {
		if n, _ := strconv.Atoi(pid); !pids[n] {
			t.Fatalf("round %d: answered by %s, not a worker of %v", r.Round, pid, pids)
		}
	}
}

// needSocketIO skips without node or the npm packages, unless in CI.
func needSocketIO(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(socketioDir, "node_modules", "socket.io"))
	}
	if err != nil && os.Getenv("CI") == "" {
		t.Skipf("no node or no socket.io (npm ci --prefix cmd/herd/%s): %v", socketioDir, err)
	}
	if err != nil {
		t.Fatalf("CI: node and the socket.io packages must be installed: %v", err)
	}
}

// sioClients is the client.js process.
type sioClients struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	asked int // rounds asked for
}

func startSIOClients(t *testing.T, url, mode string) *sioClients {
	t.Helper()
	c := &sioClients{cmd: exec.Command("node", filepath.Join(socketioDir, "client.js"), url, "100", mode), lines: make(chan string, 4)}
	c.cmd.Stderr = os.Stderr
	in, err1 := c.cmd.StdinPipe()
	out, err2 := c.cmd.StdoutPipe()
	if err := errors.Join(err1, err2, c.cmd.Start()); err != nil {
		t.Fatal(err)
	}
	c.in = in
	go func() {
		defer close(c.lines)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		c.in.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(liveness):
			c.cmd.Process.Kill()
			<-done
		}
	})
	return c
}

// round runs the next round (the first starts on its own).
func (c *sioClients) round(t *testing.T) sioRound {
	t.Helper()
	if c.asked++; c.asked > 1 {
		io.WriteString(c.in, "next\n")
	}
	select {
	case line, ok := <-c.lines:
		var r sioRound
		if !ok || json.Unmarshal([]byte(line), &r) != nil {
			t.Fatalf("client.js: no round (%q)", line)
		}
		return r
	case <-time.After(liveness):
		t.Fatal("client.js: no round in time")
	}
	return sioRound{}
}

package main_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// nodeApp is an unmodified Node app: it only listens on PORT.
const nodeApp = `
const http = require('http');
http.createServer((req, res) => res.end('node ' + process.pid + '\n')).listen(+process.env.PORT);
`

// TestNodeApp runs "herd run -n 2 -- node app.js" as a Node user would:
// round robin over both workers, a replaced worker after kill -9, a
// reload under load that fails nothing, scale, status and stop.
func TestNodeApp(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	testutil.CheckFDs(t)
	port := freePort(t)
	app := writeFile(t, t.TempDir(), "app.js", nodeApp)
	h := startHerd(t, []string{"PORT=" + port}, "-n", "2", "--kill-timeout", "30s", "--", "node", app)
	st := h.waitWorkers(2)
	u := "http://127.0.0.1:" + port + "/"
	seen := map[int]bool{}
	for i := 0; i < 10; i++ {
		pid, _ := strconv.Atoi(strings.Fields(mustGet(t, u))[1])
		seen[pid] = true
	}
	if len(seen) != 2 || !samePids(seen, pidsOf(st)) {
		t.Fatalf("answered by %v, workers are %v", seen, pidsOf(st))
	}
	for pid := range seen {
		syscall.Kill(pid, syscall.SIGKILL)
		break
	}
	h.waitWorkers(2)
	if ok, failed := loadDuring(t, u, func() { h.herdCtl("reload") }); failed != 0 || ok == 0 {
		t.Fatalf("during the reload: %d requests ok, %d failed", ok, failed)
	}
	scale(t, h, "3")
	h.waitWorkers(3)
	scale(t, h, "1")
	h.waitWorkers(1)
	mustGet(t, u)
	if _, errOut, code := h.herdCtl("stop"); code != 0 {
		t.Fatalf("herd stop: exit %d: %s", code, errOut)
	}
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd exited with %d after a stop", code)
	}
}

func samePids(a, b map[int]bool) bool {
	for pid := range a {
		if !b[pid] {
			return false
		}
	}
	return len(a) == len(b)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

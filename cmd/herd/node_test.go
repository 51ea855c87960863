package main_test

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// nodeApp is an unmodified Node app: it listens on PORT, and says so to
// its primary with process.send.
const nodeApp = `
const http = require('http');
http.createServer((req, res) => res.end('node ' + process.pid + '\n'))
  .listen(+process.env.PORT, () => process.send({up: process.pid}));
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
	for pid := range seen { // process.send reaches herd's log
		want := "msg=message worker="
		want2 := fmt.Sprintf(`pid=%d data="{\"up\":%d}"`, pid, pid)
		if !stderrHas(h, want, want2) {
			t.Fatalf("herd's log has no line with %s…%s:\n%s", want, want2, h.stderr)
		}
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

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) string { return strconv.Itoa(testutil.FreePort(t)) }

// stderrHas reports whether a line herd writes on stderr soon has both
// parts.
func stderrHas(h *herdRun, part1, part2 string) bool {
	for deadline := time.Now().Add(liveness); time.Now().Before(deadline); time.Sleep(pollEvery) {
		for _, line := range strings.Split(h.stderr.String(), "\n") {
			if strings.Contains(line, part1) && strings.Contains(line, part2) {
				return true
			}
		}
	}
	return false
}

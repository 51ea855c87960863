package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// needTool returns the path of a program a test needs. Without it the
// test is skipped, with a message saying what installs it, unless CI is
// set (.ci/run installs it): then the test fails.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (%s), and CI is set", name, install)
	}
	t.Skipf("%s is not installed: %s (.ci/run does; with CI set the test fails)", name, install)
	return ""
}

// wsgiApp and asgiApp are the smallest apps of each kind, answering
// "KIND PID".
const (
	wsgiApp = `import os
def app(environ, start_response):
    body = ("wsgi %d\n" % os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
`
	asgiApp = `import os
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("asgi %d\n" % os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
`
)

// TestReadmeServers runs the README's lines for servers that take
// systemd's sockets as they are (Debian's gunicorn and uvicorn packages),
// in the app's directory, and checks that the workers answer and stop
// cleanly.
func TestReadmeServers(t *testing.T) {
	for _, tc := range []struct {
		name, install, file, app, kind string
		line                           []string // after herd run -l ADDR --
	}{
		{"gunicorn", "apt-get install gunicorn", "app.py", wsgiApp, "wsgi", []string{"gunicorn", "app:app"}},
		{"uvicorn", "apt-get install uvicorn", "app.py", asgiApp, "asgi", []string{"uvicorn", "--fd", "3", "app:app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needTool(t, tc.line[0], tc.install)
			testutil.CheckFDs(t)
			dir := t.TempDir()
			writeFile(t, dir, tc.file, tc.app)
			args := append([]string{"run", "--control", controlPath(t), "-n", "2", "-l", "127.0.0.1:" + freePort(t), "--"}, tc.line...)
			h := startCmdWith(t, args[2], nil, func(c *exec.Cmd) { c.Dir = dir }, args...)
			st := h.waitWorkers(2)
			for i := 0; i < 20; i++ {
				if got := mustGet(t, url(t, st)); !strings.HasPrefix(got, tc.kind+" ") {
					t.Fatalf("answer %q, want %s PID", got, tc.kind)
				}
			}
			if _, errOut, code := h.herdCtl("stop"); code != 0 {
				t.Fatalf("herd stop: exit %d: %s", code, errOut)
			}
			if code := h.wait(liveness); code != 0 {
				t.Fatalf("herd exited with %d after a stop\n%s", code, h.stderr)
			}
		})
	}
}

// Package npm_test checks herd's npm packages (npm/build.sh) as a Node
// user gets them: packed, installed from the tarballs into an empty
// project, offline, and run with npx.
package npm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// Generous bounds for a busy machine.
const (
	liveness  = 60 * time.Second
	pollEvery = 100 * time.Millisecond
	version   = "0.0.1-test"
)

// app is an unmodified Node app.
const app = `require('http').createServer((req, res) => res.end('hello ' + process.pid + '\n')).listen(+process.env.PORT);`

// TestNpmPackage builds this platform's binary as a release does
// (scripts/dist.sh), makes the npm packages (npm/build.sh), installs both
// tarballs into an empty project offline, and runs npx herd version and
// a cluster through npx herd run, stopped by npx herd stop; then one run
// through the launcher stopped by SIGTERM, which the launcher passes on.
func TestNpmPackage(t *testing.T) {
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	testutil.CheckFDs(t)
	proj := installPackages(t)
	if out := run(t, proj, "npx", "--offline", "herd", "version"); !strings.HasPrefix(out, "herd v"+version+" ") {
		t.Fatalf("npx herd version: %q, want herd v%s ...", out, version)
	}
	writeFile(t, filepath.Join(proj, "app.js"), app)
	ctlDir := t.TempDir()
	os.Chmod(ctlDir, 0o700) // herd wants a private directory for its control socket
	ctl := filepath.Join(ctlDir, "c.sock")
	port := freePort(t)
	h := startInProject(t, proj, port, "npx", "--offline", "herd", "run", "-n", "2", "--control", ctl, "--", "node", "app.js")
	waitServed(t, port)
	run(t, proj, "npx", "--offline", "herd", "stop", "--control", ctl)
	if code := waitExit(t, h); code != 0 {
		t.Fatalf("npx herd run exited with %d after herd stop", code)
	}
	h = startInProject(t, proj, port, filepath.Join(proj, "node_modules", ".bin", "herd"), "run", "-n", "1", "--control", ctl, "--", "node", "app.js")
	waitServed(t, port)
	h.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, h); code != 0 {
		t.Fatalf("the launcher exited with %d after SIGTERM, want herd's graceful 0", code)
	}
}

// installPackages builds the binary and the packages, and installs them
// into a new project, whose directory it returns.
func installPackages(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs("..")
	tmp := t.TempDir()
	dist, out, proj := filepath.Join(tmp, "dist"), filepath.Join(tmp, "out"), filepath.Join(tmp, "proj")
	t.Setenv("DIST", dist)
	t.Setenv("npm_config_cache", filepath.Join(tmp, "npm-cache"))
	t.Setenv("npm_config_update_notifier", "false")
	run(t, root, filepath.Join(root, "scripts", "dist.sh"), "v"+version, runtime.GOOS+"/"+runtime.GOARCH)
	run(t, root, filepath.Join(root, "npm", "build.sh"), version, dist, out)
	tarballs, _ := filepath.Glob(filepath.Join(out, "*.tgz"))
	if len(tarballs) != 2 {
		t.Fatalf("npm/build.sh made %q, want the main package and this platform's", tarballs)
	}
	os.MkdirAll(proj, 0o755)
	writeFile(t, filepath.Join(proj, "package.json"), `{"name": "app", "version": "1.0.0", "private": true}`)
	run(t, proj, "npm", append([]string{"install", "--offline", "--no-audit", "--no-fund"}, tarballs...)...)
	return proj
}

// run runs a command to its end in dir and returns its output; a failure
// fails the test.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // go build on a busy machine
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s%s", name, args, err, out.String(), errb.String())
	}
	return out.String()
}

// startInProject starts a herd through npm's files in proj, in a process
// group of its own that the test's end kills if it is still there.
func startInProject(t *testing.T, proj, port, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = proj, append(os.Environ(), "PORT="+port)
	var logs testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if syscall.Kill(-cmd.Process.Pid, 0) == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs.String())
		}
	})
	return cmd
}

// waitServed waits until the app answers on port.
func waitServed(t *testing.T, port string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for deadline := time.Now().Add(liveness); time.Now().Before(deadline); time.Sleep(pollEvery) {
		resp, err := client.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.HasPrefix(string(body), "hello ") {
			return
		}
	}
	t.Fatalf("nothing served on port %s", port)
}

// waitExit waits for cmd to exit and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(liveness):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%s still runs after %s", cmd.Path, liveness)
		return -1
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
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

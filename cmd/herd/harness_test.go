package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/internal/testutil/herdtest"
)

// Generous bounds for a busy machine; nothing here measures speed.
const (
	liveness    = testutil.Liveness // a herd starts, becomes ready, stops
	pollEvery   = 100 * time.Millisecond
	workersGone = herdtest.WorkersGone // workers are gone after herd is
)

// herdRun is a herd process under test: herdtest.Herd, with the names
// this package's tests use.
type herdRun struct {
	*herdtest.Herd
	t              *testing.T
	cmd            *exec.Cmd
	ctl            string // its control socket
	stdout, stderr *syncBuffer
	done           <-chan struct{}
}

// startHerd starts "herd run --control SOCK ARGS..." with extra
// environment variables, and stops it when the test ends.
func startHerd(t *testing.T, env []string, args ...string) *herdRun {
	t.Helper()
	ctl := herdtest.ControlPath(t)
	return startCmd(t, ctl, env, append([]string{"run", "--control", ctl}, args...)...)
}

// startCmd starts herd with args; ctl is the control socket it uses.
func startCmd(t *testing.T, ctl string, env []string, args ...string) *herdRun {
	t.Helper()
	return startCmdWith(t, ctl, env, nil, args...)
}

// startCmdWith is startCmd with a chance to adjust the command first.
func startCmdWith(t *testing.T, ctl string, env []string, prep func(*exec.Cmd), args ...string) *herdRun {
	t.Helper()
	h := herdtest.Start(t, herdBin, ctl, env, prep, args...)
	return &herdRun{Herd: h, t: t, cmd: h.Cmd, ctl: ctl, stdout: h.Stdout, stderr: h.Stderr, done: h.Done()}
}

// wait waits for herd to exit and returns its exit status.
func (h *herdRun) wait(d time.Duration) int {
	h.t.Helper()
	return h.Wait(d)
}

// herdCtl runs "herd ARGS... --control SOCK" and returns its output and
// exit status.
func (h *herdRun) herdCtl(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	return runHerdCmd(h.t, nil, append(args, "--control", h.ctl)...)
}

// runHerdCmd runs herd to completion with a bound on its run time.
func runHerdCmd(t *testing.T, attr *syscall.SysProcAttr, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	cmd := exec.CommandContext(ctx, herdBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = &out, &errb, attr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("herd %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// status asks herd for its status.
func (h *herdRun) status() *control.Status {
	h.t.Helper()
	st, err := h.Status()
	if err != nil {
		h.t.Fatalf("herd status: %v\nstderr:\n%s", err, h.stderr)
	}
	return st
}

// waitWorkers waits until herd has exactly n workers, all ready.
func (h *herdRun) waitWorkers(n int) *control.Status {
	h.t.Helper()
	return h.WaitWorkers(n)
}

// waitControl waits for the control socket to appear.
func (h *herdRun) waitControl() {
	h.t.Helper()
	h.WaitControl()
}

func allReady(st *control.Status) bool { return herdtest.AllReady(st) }

func pidsOf(st *control.Status) map[int]bool { return herdtest.Pids(st) }

// url is the address of herd's first --listen socket.
func url(t *testing.T, st *control.Status) string {
	t.Helper()
	if len(st.Listen) == 0 {
		t.Fatalf("herd listens nowhere: %+v", st)
	}
	return "http://" + st.Listen[0] + "/"
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// get returns the body of a GET of url.
func get(url string) (string, error) { return getWith(client, url) }

// getWith is get through cl.
func getWith(cl *http.Client, url string) (string, error) {
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	return string(b), err
}

func mustGet(t *testing.T, url string) string {
	t.Helper()
	body, err := get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}

// waitGone waits until pid has exited (a zombie counts as exited).
func waitGone(pid int, d time.Duration) bool { return herdtest.WaitGone(pid, d) }

// syncBuffer collects herd's output.
type syncBuffer = testutil.SyncBuffer

// controlPath is a control socket path in a private temporary directory.
func controlPath(t *testing.T) string { return herdtest.ControlPath(t) }

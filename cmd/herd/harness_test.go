package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
)

// Generous bounds for a busy machine; nothing here measures speed.
const (
	liveness    = 60 * time.Second // a herd starts, becomes ready, stops
	pollEvery   = 100 * time.Millisecond
	workersGone = 20 * time.Second // workers are gone after herd is
)

// herdRun is a herd process under test.
type herdRun struct {
	t              *testing.T
	cmd            *exec.Cmd
	ctl            string // its control socket
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int // exit status, once done

	mu   sync.Mutex
	pids map[int]bool // every worker pid seen: checked gone at cleanup
}

// startHerd starts "herd run --control SOCK ARGS..." with extra
// environment variables, and stops it when the test ends.
func startHerd(t *testing.T, env []string, args ...string) *herdRun {
	t.Helper()
	ctl := controlPath(t)
	return startCmd(t, ctl, env, append([]string{"run", "--control", ctl}, args...)...)
}

// controlPath is a control socket path in a private temporary directory.
func controlPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "c.sock")
}

// startCmd starts herd with args; ctl is the control socket it uses.
func startCmd(t *testing.T, ctl string, env []string, args ...string) *herdRun {
	t.Helper()
	return startCmdWith(t, ctl, env, nil, args...)
}

// startCmdWith is startCmd with a chance to adjust the command first.
func startCmdWith(t *testing.T, ctl string, env []string, prep func(*exec.Cmd), args ...string) *herdRun {
	t.Helper()
	h := &herdRun{t: t, ctl: ctl, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}), pids: map[int]bool{}}
	h.cmd = exec.Command(herdBin, args...)
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.Stdout, h.cmd.Stderr = h.stdout, h.stderr
	h.cmd.SysProcAttr = &syscall.SysProcAttr{}
	sysport.SetPdeathsig(h.cmd.SysProcAttr, syscall.SIGKILL) // never outlive the test
	if prep != nil {
		prep(h.cmd)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.cmd.Wait()
		h.code = h.cmd.ProcessState.ExitCode()
		close(h.done)
	}()
	t.Cleanup(h.cleanup)
	return h
}

// cleanup stops herd if it still runs, then checks its workers are gone.
func (h *herdRun) cleanup() {
	select {
	case <-h.done:
	default:
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(liveness):
			h.t.Errorf("herd did not stop on SIGTERM; killing it\nstderr:\n%s", h.stderr)
			h.cmd.Process.Kill()
			<-h.done
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for pid := range h.pids {
		if !waitGone(pid, workersGone) {
			h.t.Errorf("worker %d outlived herd", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if h.t.Failed() {
		h.t.Logf("herd stdout:\n%s\nherd stderr:\n%s", h.stdout, h.stderr)
	}
}

// wait waits for herd to exit and returns its exit status.
func (h *herdRun) wait(d time.Duration) int {
	h.t.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(d):
		h.t.Fatalf("herd still runs after %s\nstderr:\n%s", d, h.stderr)
		return -1
	}
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
	out, errOut, code := h.herdCtl("status", "--json")
	if code != 0 {
		h.t.Fatalf("herd status: exit %d: %s", code, errOut)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		h.t.Fatalf("herd status --json: %v\n%s", err, out)
	}
	h.mu.Lock()
	for _, w := range st.Workers {
		h.pids[w.Pid] = true
	}
	h.mu.Unlock()
	return &st
}

// waitWorkers waits until herd has exactly n workers, all ready.
func (h *herdRun) waitWorkers(n int) *control.Status {
	h.t.Helper()
	h.waitControl()
	deadline := time.Now().Add(liveness)
	for {
		st := h.status()
		if len(st.Workers) == n && allReady(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("want %d ready workers, have %+v\nstderr:\n%s", n, st.Workers, h.stderr)
		}
		time.Sleep(pollEvery)
	}
}

// waitControl waits for the control socket to appear.
func (h *herdRun) waitControl() {
	h.t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		if _, err := os.Stat(h.ctl); err == nil {
			return
		}
		select {
		case <-h.done:
			h.t.Fatalf("herd exited with %d before serving its control socket\nstderr:\n%s", h.code, h.stderr)
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no control socket at %s\nstderr:\n%s", h.ctl, h.stderr)
		}
	}
}

func allReady(st *control.Status) bool {
	for _, w := range st.Workers {
		if w.State != "ready" {
			return false
		}
	}
	return true
}

func pidsOf(st *control.Status) map[int]bool {
	out := map[int]bool{}
	for _, w := range st.Workers {
		out[w.Pid] = true
	}
	return out
}

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
func get(url string) (string, error) {
	resp, err := client.Get(url)
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
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')')+1:], " Z ") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
}

// syncBuffer collects herd's output.
type syncBuffer struct{ testutil.SyncBuffer }

// waitFor waits until the buffer holds substr.
func (s *syncBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !strings.Contains(s.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", substr, s)
		}
		time.Sleep(pollEvery)
	}
}

// Package herdtest runs the real herd binary under test, for the
// end-to-end tests (cmd/herd) and the chaos suite: it starts "herd run",
// asks it for its status over its control socket, waits for its workers,
// and when the test ends stops it and checks that no worker outlived it.
package herdtest

import (
	"context"
	"errors"
	"github.com/herdhq/herd/internal/sysport"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
)

// WorkersGone is how long workers may outlive herd at the end of a test.
const WorkersGone = 20 * time.Second

// pollEvery is how often Herd asks herd for its status while it waits.
const pollEvery = 50 * time.Millisecond

// Herd is a herd process under test.
type Herd struct {
	T              testing.TB
	Cmd            *exec.Cmd
	Control        string               // its control socket
	Stdout, Stderr *testutil.SyncBuffer // what it wrote
	done           chan struct{}
	code           int // exit status, once done

	mu   sync.Mutex
	pids map[int]bool // every worker pid seen: checked gone at cleanup
}

// Start runs bin with args (which should name ctl as the control socket)
// and env added to this process's environment, after prep (if not nil)
// has adjusted the command; it stops herd when the test ends. herd dies
// with the test binary (Pdeathsig).
func Start(t testing.TB, bin, ctl string, env []string, prep func(*exec.Cmd), args ...string) *Herd {
	t.Helper()
	h := &Herd{T: t, Control: ctl, Stdout: &testutil.SyncBuffer{}, Stderr: &testutil.SyncBuffer{},
		done: make(chan struct{}), pids: map[int]bool{}}
	h.Cmd = exec.Command(bin, args...)
	h.Cmd.Env = append(os.Environ(), env...)
	h.Cmd.Stdout, h.Cmd.Stderr = h.Stdout, h.Stderr
	h.Cmd.SysProcAttr = &syscall.SysProcAttr{}
	sysport.SetPdeathsig(h.Cmd.SysProcAttr, syscall.SIGKILL) // never outlive the test (Linux)
	if prep != nil {
		prep(h.Cmd)
	}
	if err := h.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.Cmd.Wait()
		h.code = h.Cmd.ProcessState.ExitCode()
		close(h.done)
	}()
	t.Cleanup(h.cleanup)
	return h
}

// ControlPath is a control socket path in a private temporary directory.
func ControlPath(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "c.sock")
}

// Done is closed when herd has exited.
func (h *Herd) Done() <-chan struct{} { return h.done }

// Code is herd's exit status, once Done is closed.
func (h *Herd) Code() int { <-h.done; return h.code }

// Running reports whether herd has not exited yet.
func (h *Herd) Running() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// Wait waits up to d for herd to exit and returns its exit status; it
// fails the test if herd still runs.
func (h *Herd) Wait(d time.Duration) int {
	h.T.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(d):
		h.T.Fatalf("herd still runs after %s\nstderr:\n%s", d, h.Stderr)
		return -1
	}
}

// Track records pids as herd's workers: the cleanup checks they are gone.
func (h *Herd) Track(pids ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range pids {
		h.pids[p] = true
	}
}

// cleanup stops herd if it still runs, then checks its workers are gone.
func (h *Herd) cleanup() {
	if h.Running() {
		h.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(testutil.Liveness):
			h.T.Errorf("herd did not stop on SIGTERM; killing it")
			h.Cmd.Process.Kill()
			<-h.done
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for pid := range h.pids {
		if !WaitGone(pid, WorkersGone) {
			h.T.Errorf("worker %d outlived herd", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if h.T.Failed() {
		h.T.Logf("herd stdout:\n%s\nherd stderr:\n%s", tail(h.Stdout.String()), tail(h.Stderr.String()))
	}
}

// tail is the end of a long output.
func tail(s string) string {
	if len(s) > 20000 {
		return "...\n" + s[len(s)-20000:]
	}
	return s
}

// WaitGone waits up to d for pid to exit (a zombie counts as exited).
func WaitGone(pid int, d time.Duration) bool {
	return testutil.Until(d, pollEvery, func() bool { return !procstat.Alive(pid) })
}

// errNoControl is Status's error before herd serves its control socket.
var errNoControl = errors.New("herdtest: no control socket yet")

// Status asks herd for its status over the control socket, and tracks
// the workers it lists.
func (h *Herd) Status() (*control.Status, error) {
	if _, err := os.Stat(h.Control); err != nil {
		return nil, errNoControl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, h.Control, control.Request{Cmd: control.CmdStatus})
	if err != nil {
		return nil, err
	}
	for _, w := range resp.Status.Workers {
		h.Track(w.Pid)
	}
	return resp.Status, nil
}

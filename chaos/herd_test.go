//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
)

// Generous bounds for a busy machine; the tests measure, they do not race.
const (
	liveness  = 60 * time.Second
	pollEvery = 50 * time.Millisecond
)

// herdProc is a running "herd run" whose workers are this test binary.
type herdProc struct {
	t        *testing.T
	cmd      *exec.Cmd
	ctl, dir string
	addr     string // the workers' address (127.0.0.1:PORT)
	out      *syncBuffer
	done     chan struct{}
	code     int

	mu   sync.Mutex
	pids map[int]bool // every worker pid seen, checked gone at the end
}

// startHerd runs "herd run --control SOCK ARGS... -- TESTBINARY" with
// workers running helper, and stops it when the test ends.
func startHerd(t *testing.T, helper string, env []string, args ...string) *herdProc {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	h := &herdProc{t: t, ctl: filepath.Join(dir, "c.sock"), dir: dir, addr: addr, out: &syncBuffer{},
		done: make(chan struct{}), pids: map[int]bool{}}
	argv := append([]string{"run", "--control", h.ctl}, args...)
	h.cmd = exec.Command(herdBin, append(argv, "--", os.Args[0])...)
	h.cmd.Env = append(testutil.HelperEnv(helper, envAddr+"="+addr, envDir+"="+dir), env...)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	h.cmd.SysProcAttr = &syscall.SysProcAttr{}
	sysport.SetPdeathsig(h.cmd.SysProcAttr, syscall.SIGKILL) // never outlive the test (Linux)
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

func (h *herdProc) pid() int      { return h.cmd.Process.Pid }
func (h *herdProc) url() string   { return "http://" + h.addr + "/" }
func (h *herdProc) running() bool { return !isClosed(h.done) }

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// cleanup stops herd if it still runs, then kills whatever it left.
func (h *herdProc) cleanup() {
	if h.running() {
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(liveness):
			h.t.Errorf("herd did not stop on SIGTERM; killing it")
			h.cmd.Process.Kill()
			<-h.done
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for pid := range h.pids {
		if !waitGone(pid, 20*time.Second) {
			h.t.Errorf("worker %d outlived herd", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if h.t.Failed() {
		out := h.out.String()
		if len(out) > 20000 {
			out = "...\n" + out[len(out)-20000:]
		}
		h.t.Logf("herd output:\n%s", out)
	}
}

// status asks herd for its status over the control socket.
func (h *herdProc) status() (*control.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, h.ctl, control.Request{Cmd: control.CmdStatus})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	for _, w := range resp.Status.Workers {
		h.pids[w.Pid] = true
	}
	h.mu.Unlock()
	return resp.Status, nil
}

// waitWorkers waits until herd has n workers, all ready.
func (h *herdProc) waitWorkers(n int) *control.Status {
	h.t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		st, err := h.status()
		if err == nil && len(st.Workers) == n && allReady(st) {
			return st
		}
		if !h.running() {
			h.t.Fatalf("herd exited with %d while waiting for %d workers", h.code, n)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("want %d ready workers; status %+v, %v", n, st, err)
		}
		time.Sleep(pollEvery)
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

// herdCtl runs "herd ARGS... --control SOCK", bounded in time.
func (h *herdProc) herdCtl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveness)
	defer cancel()
	out, err := exec.CommandContext(ctx, herdBin, append(args, "--control", h.ctl)...).CombinedOutput()
	return string(out), err
}

// workers lists herd's live children: its workers (the exec shim keeps
// the pid).
func (h *herdProc) workers() []int {
	ws := children(h.pid())
	h.mu.Lock()
	for _, w := range ws {
		h.pids[w] = true
	}
	h.mu.Unlock()
	return ws
}

// fds counts herd's open file descriptors.
func (h *herdProc) fds() int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(h.pid()) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// rss is herd's resident memory, and its peak, in MiB.
func (h *herdProc) rss() (now, peak float64) {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(h.pid()) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				now = kb / 1024
			} else {
				peak = kb / 1024
			}
		}
	}
	return
}

// children lists the live children of pid other than herd's watchdog.
func children(pid int) []int {
	return slices.DeleteFunc(procstat.Children(pid), isWatchdog)
}

// waitGone polls until pid has exited, for at most d.
func waitGone(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); procstat.Alive(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// socketCount counts pid's sockets.
func socketCount(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	n := 0
	for _, e := range ents {
		if t, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name()); err == nil && strings.HasPrefix(t, "socket:") {
			n++
		}
	}
	return n
}

// syncBuffer collects a child's output.
type syncBuffer = testutil.SyncBuffer

// isWatchdog reports whether pid is herd's watchdog process, a child of
// herd that is not a worker: /bin/sh -c SCRIPT herd-watchdog, or herd
// __watchdog where there is no /bin/sh (cli/watchdog.go).
func isWatchdog(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return len(args) == 4 && args[1] == "-c" && args[3] == "herd-watchdog" ||
		len(args) == 2 && args[1] == "__watchdog"
}

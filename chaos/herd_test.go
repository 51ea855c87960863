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
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/internal/testutil/herdtest"
)

// Generous bounds for a busy machine; the tests measure, they do not race.
const (
	liveness  = testutil.Liveness
	pollEvery = 50 * time.Millisecond
)

// herdProc is a running "herd run" whose workers are this test binary:
// herdtest.Herd, with its output on one buffer, the workers' address and
// a directory they share with the test.
type herdProc struct {
	*herdtest.Herd
	t        *testing.T
	cmd      *exec.Cmd
	ctl, dir string
	addr     string // the workers' address (127.0.0.1:PORT)
	out      *testutil.SyncBuffer
	done     <-chan struct{}
}

// startHerd runs "herd run --control SOCK ARGS... -- TESTBINARY" with
// workers running helper, and stops it when the test ends.
func startHerd(t *testing.T, helper string, env []string, args ...string) *herdProc {
	t.Helper()
	ctl := herdtest.ControlPath(t)
	dir, addr := filepath.Dir(ctl), testutil.FreeAddr(t)
	argv := append([]string{"run", "--control", ctl}, args...)
	env = append([]string{testutil.EnvHelper + "=" + helper, envAddr + "=" + addr, envDir + "=" + dir}, env...)
	oneOutput := func(c *exec.Cmd) { c.Stderr = c.Stdout }
	hh := herdtest.Start(t, herdBin, ctl, env, oneOutput, append(argv, "--", os.Args[0])...)
	return &herdProc{Herd: hh, t: t, cmd: hh.Cmd, ctl: ctl, dir: dir, addr: addr, out: hh.Stdout, done: hh.Done()}
}

func (h *herdProc) pid() int    { return h.cmd.Process.Pid }
func (h *herdProc) url() string { return "http://" + h.addr + "/" }

// status asks herd for its status over the control socket.
func (h *herdProc) status() (*control.Status, error) { return h.Status() }

// waitWorkers waits until herd has n workers, all ready.
func (h *herdProc) waitWorkers(n int) *control.Status {
	h.t.Helper()
	return h.WaitWorkers(n)
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
	h.Track(ws...)
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
func waitGone(pid int, d time.Duration) bool { return herdtest.WaitGone(pid, d) }

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

// isWatchdog reports whether pid is herd's watchdog process, a child of
// herd that is not a worker: /bin/sh -c SCRIPT herd-watchdog, or herd
// __watchdog where there is no /bin/sh (cli/watchdog.go).
func isWatchdog(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return len(args) == 4 && args[1] == "-c" && args[3] == "herd-watchdog" ||
		len(args) == 2 && args[1] == "__watchdog"
}

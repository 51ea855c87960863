package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
)

// group is a process group of two sleeps, like a worker and its child.
type group struct {
	pgid   int
	exited []chan error // each process's Wait
}

func startGroup(t *testing.T) *group {
	t.Helper()
	g := &group{}
	for i := 0; i < 2; i++ {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			g.pgid = cmd.Process.Pid
		}
		ch := make(chan error, 1)
		go func() { ch <- cmd.Wait() }()
		g.exited = append(g.exited, ch)
	}
	if g.pgid <= 1 { // never kill -1
		t.Fatalf("process group %d", g.pgid)
	}
	t.Cleanup(func() {
		syscall.Kill(-g.pgid, syscall.SIGKILL)
		for _, ch := range g.exited {
			<-ch
		}
	})
	return g
}

// killed checks that every process of g died of SIGKILL.
func (g *group) killed(t *testing.T) {
	t.Helper()
	for i, ch := range g.exited {
		select {
		case err := <-ch:
			ch <- err // for the cleanup
			var ee *exec.ExitError
			if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("process %d of group %d: %v, want killed by SIGKILL", i, g.pgid, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("process %d of group %d still runs", i, g.pgid)
		}
	}
}

// alive checks that every process of g still runs.
func (g *group) alive(t *testing.T) {
	t.Helper()
	time.Sleep(50 * time.Millisecond) // a kill would have landed by now
	for i, ch := range g.exited {
		select {
		case err := <-ch:
			ch <- err
			t.Errorf("process %d of group %d exited: %v", i, g.pgid, err)
		default:
		}
	}
}

// noGroup is a process group that cannot exist: pids are below pid_max.
func noGroup(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 1 {
		t.Fatalf("pid_max %q: %v", b, err)
	}
	return n
}

// A watchdog under test: its stdin, a wait for its end, and its stderr.
type testWatchdog struct {
	w      io.WriteCloser
	done   chan struct{}
	stderr *bytes.Buffer
}

func (wd *testWatchdog) send(t *testing.T, lines ...string) {
	t.Helper()
	if _, err := io.WriteString(wd.w, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (wd *testWatchdog) waitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-wd.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not end")
	}
	if wd.stderr.Len() > 0 {
		t.Errorf("the watchdog reported: %s", wd.stderr)
	}
}

// startScript starts watchdogScript as herd does, and checks that it is
// in a process group of its own and ignores the signals meant for herd.
func startScript(t *testing.T) *testWatchdog {
	t.Helper()
	if _, err := os.Stat(shell); err != nil {
		t.Skipf("no %s: %v", shell, err)
	}
	wd := &testWatchdog{done: make(chan struct{}), stderr: &bytes.Buffer{}}
	w, cmd, err := startWatchdog(shell, "/nonexistent/herd", wd.stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{shell, "-c", watchdogScript, watchdogName}; !slices.Equal(cmd.Args, want) {
		t.Fatalf("watchdog command %q, want the script", cmd.Args)
	}
	wd.w = w
	go func() { cmd.Wait(); close(wd.done) }()
	t.Cleanup(func() {
		w.Close()
		select {
		case <-wd.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-wd.done
		}
	})
	pid := cmd.Process.Pid
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Fatalf("watchdog %d in process group %d (%v), want its own", pid, pgid, err)
	}
	// The trap is set once SigIgn has every signal; then they must do nothing.
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE}
	var mask uint64
	for _, s := range sigs {
		mask |= 1 << (s - 1)
	}
	for deadline := time.Now().Add(10 * time.Second); ignored(pid)&mask != mask; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the watchdog ignores signals %#x, want at least %#x", ignored(pid), mask)
		}
	}
	for _, s := range sigs {
		syscall.Kill(pid, s)
	}
	return wd
}

// ignored is pid's SigIgn mask.
func ignored(pid int) uint64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			m, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return m
		}
	}
	return 0
}

// startLoop runs watchdogLoop, herd's own watchdog, in this process.
func startLoop(t *testing.T) *testWatchdog {
	r, w := io.Pipe()
	wd := &testWatchdog{w: w, done: make(chan struct{}), stderr: &bytes.Buffer{}}
	go func() {
		watchdogLoop(r, wd.stderr)
		r.Close()
		close(wd.done)
	}()
	t.Cleanup(func() { w.Close(); <-wd.done })
	return wd
}

func TestWatchdog(t *testing.T) {
	for _, impl := range []struct {
		name  string
		start func(*testing.T) *testWatchdog
	}{{"script", startScript}, {"herd", startLoop}} {
		// herd died: stdin ends without "end", and the groups left are
		// killed; a removed group, a gone group and odd lines are not.
		t.Run(impl.name+"/eof", func(t *testing.T) {
			a, b, c := startGroup(t), startGroup(t), startGroup(t)
			wd := impl.start(t)
			wd.send(t, "+"+strconv.Itoa(a.pgid), "+"+strconv.Itoa(b.pgid), "+"+strconv.Itoa(c.pgid),
				"-"+strconv.Itoa(b.pgid), "+"+strconv.Itoa(noGroup(t)), "hello", "+", "+x", "+"+strconv.Itoa(a.pgid))
			wd.w.Close()
			wd.waitEnd(t)
			a.killed(t)
			c.killed(t)
			b.alive(t)
		})
		// herd's clean end: "end" ends the watchdog before stdin does,
		// and it kills nothing.
		t.Run(impl.name+"/end", func(t *testing.T) {
			a := startGroup(t)
			wd := impl.start(t)
			wd.send(t, "+"+strconv.Itoa(a.pgid), "end")
			wd.waitEnd(t)
			wd.w.Close()
			a.alive(t)
		})
	}
}

// TestWatchdogFallback: without the shell, herd runs itself as the
// watchdog.
func TestWatchdogFallback(t *testing.T) {
	w, cmd, err := startWatchdog("/nonexistent/sh", "/bin/true", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	cmd.Wait()
	if want := []string{"/bin/true", argWatchdog}; !slices.Equal(cmd.Args, want) {
		t.Fatalf("watchdog command %q, want %q", cmd.Args, want)
	}
}

// TestHerdWatchdog: herd's events reach the watchdog, which starts with
// the first fork; stopWatchdog ends it without a kill, and none starts
// after it.
func TestHerdWatchdog(t *testing.T) {
	a, b := startGroup(t), startGroup(t)
	h := &herd{exe: "/nonexistent/herd", log: slog.New(slog.DiscardHandler)}
	h.watch("", cluster.Event{Type: cluster.EventExit, Pid: a.pgid})
	if h.wd.tried {
		t.Fatal("an exit started the watchdog")
	}
	h.watch("", cluster.Event{Type: cluster.EventFork, Pid: a.pgid})
	h.watch("", cluster.Event{Type: cluster.EventFork, Pid: b.pgid})
	h.watch("", cluster.Event{Type: cluster.EventExit, Pid: b.pgid})
	if h.wd.w == nil {
		t.Skip("no watchdog (no /bin/sh)")
	}
	cmd := h.wd.cmd
	h.stopWatchdog()
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("watchdog ended with %v", cmd.ProcessState)
	}
	a.alive(t)
	b.alive(t)
	h.watch("", cluster.Event{Type: cluster.EventFork, Pid: b.pgid})
	if h.wd.w != nil {
		t.Error("a watchdog started after stopWatchdog")
	}
}

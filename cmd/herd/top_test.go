package main_test

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// ansi matches the terminal control sequences tcell writes.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMc])`)

// screenText is what a terminal program wrote, without control sequences.
func screenText(s string) string { return ansi.ReplaceAllString(s, " ") }

// ptyRun is herd top running on a pseudo-terminal.
type ptyRun struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	out  *syncBuffer
	done chan struct{} // closed once the output is read to its end
}

func startTop(t *testing.T, h *herdRun) *ptyRun {
	t.Helper()
	r := &ptyRun{t: t, out: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(herdBin, "top", "--control", h.ctl)
	r.cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	tty, err := pty.StartWithSize(r.cmd, &pty.Winsize{Rows: 30, Cols: 140})
	if err != nil {
		t.Fatal(err)
	}
	r.tty = tty
	go func() {
		defer close(r.done)
		io.Copy(r.out, tty) // ends with EIO once herd top has exited
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		tty.Close()
		<-r.done
	})
	return r
}

// waitShows waits until the screen has shown every worker's pid.
func (r *ptyRun) waitShows(st *control.Status) {
	r.t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		text := screenText(r.out.String())
		missing := ""
		for _, w := range st.Workers {
			if !strings.Contains(text, " "+strconv.Itoa(w.Pid)+" ") {
				missing = strconv.Itoa(w.Pid)
			}
		}
		if missing == "" && strings.Contains(text, "q quit") {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("herd top never showed worker pid %s; screen:\n%s", missing, text)
		}
		time.Sleep(pollEvery)
	}
}

// TestTopInTerminal runs herd top in a pseudo-terminal: it shows every
// worker, + adds one, and q quits.
func TestTopInTerminal(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "3")
	st := h.waitWorkers(3)
	top := startTop(t, h)
	top.waitShows(st)
	for _, want := range []string{"STATE", "CPU", "MEM", "RESTARTS", "TREND", "ready", "3 workers (desired 3)"} {
		if !strings.Contains(screenText(top.out.String()), want) {
			t.Errorf("the screen lacks %q", want)
		}
	}
	top.tty.Write([]byte("+"))
	st = h.waitWorkers(4)
	top.waitShows(st)
	top.tty.Write([]byte("q"))
	select {
	case <-top.done:
	case <-time.After(liveness):
		t.Fatal("herd top did not quit on q")
	}
	if err := top.cmd.Wait(); err != nil {
		t.Fatalf("herd top: %v", err)
	}
}

// TestTopPlain: without a terminal, herd top prints one table; with
// --watch, one a second.
func TestTopPlain(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "2")
	st := h.waitWorkers(2)
	out, errOut, code := h.herdCtl("top")
	if code != 0 {
		t.Fatalf("herd top: exit %d: %s", code, errOut)
	}
	if strings.Count(out, "ID  PID") != 1 || strings.Contains(out, "\x1b") {
		t.Fatalf("herd top without a terminal printed:\n%q", out)
	}
	for _, w := range st.Workers {
		if !strings.Contains(out, "  "+strconv.Itoa(w.Pid)+"  ") {
			t.Errorf("no worker %d in:\n%s", w.Pid, out)
		}
	}

	cmd := exec.Command(herdBin, "top", "--watch", "--control", h.ctl)
	buf := &syncBuffer{}
	cmd.Stdout = buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(liveness)
	for strings.Count(buf.String(), "ID  PID") < 3 && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("herd top --watch after SIGINT: %v", err)
	}
	if n := strings.Count(buf.String(), "ID  PID"); n < 3 {
		t.Fatalf("herd top --watch printed %d tables:\n%s", n, buf)
	}
}

package proc_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

func TestWaitNil(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "exit", "HERD_EXIT_CODE=0")
	for i := range 2 {
		if err := waitExit(t, c); err != nil {
			t.Fatalf("Wait #%d: %v", i+1, err)
		}
	}
}

func TestWaitExitError(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "exit", "HERD_EXIT_CODE=7")
	first := waitExit(t, c)
	var ee *exec.ExitError
	if !errors.As(first, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("Wait: %v, want an *exec.ExitError with code 7", first)
	}
	if again := c.Wait(); again != first {
		t.Errorf("second Wait: %v, want the same error as the first (%v)", again, first)
	}
	if c.ProcessState() == nil || c.ProcessState().ExitCode() != 7 {
		t.Errorf("ProcessState %v, want exit status 7", c.ProcessState())
	}
}

func TestStartTwice(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "echo")
	if err := c.Start(); !errors.Is(err, proc.ErrAlreadyStarted) {
		t.Fatalf("second Start: %v, want ErrAlreadyStarted", err)
	}
	pingPong(t, c)
}

func TestNotStarted(t *testing.T) {
	c := proc.Command("true")
	for name, err := range map[string]error{
		"Wait":       c.Wait(),
		"Signal":     c.Signal(syscall.SIGTERM),
		"Disconnect": c.Disconnect(),
	} {
		if !errors.Is(err, proc.ErrNotStarted) {
			t.Errorf("%s before Start: %v, want ErrNotStarted", name, err)
		}
	}
	if c.Channel() != nil || c.Pid() != 0 {
		t.Error("a Cmd that was not started has a channel or a pid")
	}
}

func TestStartMissingBinary(t *testing.T) {
	for name, want := range map[string]error{
		"herd-no-such-program":      exec.ErrNotFound,
		"/nonexistent/herd-no-such": fs.ErrNotExist,
	} {
		t.Run(strings.TrimPrefix(name, "/"), func(t *testing.T) {
			testutil.CheckFDs(t)
			checkFailedStart(t, proc.Command(name), name, want)
		})
	}
}

func TestStartCanceledContext(t *testing.T) {
	testutil.CheckFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := proc.CommandContext(ctx, os.Args[0])
	checkFailedStart(t, c, "", context.Canceled)
}

// checkFailedStart starts c, which must fail with an error that mentions
// name and matches want, and checks that c is left in a usable state.
func checkFailedStart(t *testing.T, c *proc.Cmd, name string, want error) {
	t.Helper()
	err := c.Start()
	if !errors.Is(err, want) || !strings.Contains(err.Error(), name) {
		t.Fatalf("Start: %v, want an error about %q matching %v", err, name, want)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Wait after a failed Start returned nil")
		}
	case <-time.After(liveness):
		t.Fatal("Wait after a failed Start blocks")
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events after a failed Start delivered an event")
	}
	if c.Channel() != nil || c.Pid() != 0 {
		t.Error("a Cmd whose Start failed has a channel or a pid")
	}
	if err := c.Start(); !errors.Is(err, proc.ErrAlreadyStarted) {
		t.Errorf("Start again: %v, want ErrAlreadyStarted", err)
	}
}

// infoOf starts the info helper as c and returns what it reports.
func infoOf(t *testing.T, c *proc.Cmd) childInfo {
	t.Helper()
	start(t, c)
	var info childInfo
	recvInto(t, c.Channel(), &info)
	return info
}

func TestExtraFilesShiftChannel(t *testing.T) {
	testutil.CheckFDs(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	c := helperCmd("info", "HERD_WRITE_FD3=1")
	c.ExtraFiles = []*os.File{w, devNull}
	info := infoOf(t, c)
	w.Close()
	devNull.Close()
	if info.FD != "5" || info.Mode != "json" {
		t.Errorf("child saw NODE_CHANNEL_FD=%q mode=%q, want 5 and json", info.FD, info.Mode)
	}
	r.SetReadDeadline(time.Now().Add(liveness))
	buf := make([]byte, len("hello from fd 3"))
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "hello from fd 3" {
		t.Errorf("read %q (%v) from the child's fd 3", buf, err)
	}
}

func TestChannelVariablesHidden(t *testing.T) {
	testutil.CheckFDs(t)
	info := infoOf(t, helperCmd("info"))
	if info.FD != "3" || info.Mode != "json" {
		t.Errorf("child saw NODE_CHANNEL_FD=%q mode=%q, want 3 and json", info.FD, info.Mode)
	}
	if info.FDAfter != "" || info.Grandchild != "unset" {
		t.Errorf("after ipc.Inherited the child sees %q and its child %q, want both unset",
			info.FDAfter, info.Grandchild)
	}
}

func TestEnvNilInherits(t *testing.T) {
	testutil.CheckFDs(t)
	t.Setenv(testutil.EnvHelper, "info")
	t.Setenv("HERD_PROBE", "inherited")
	t.Setenv(ipc.EnvChannelFD, "99")
	c := proc.Command(os.Args[0])
	info := infoOf(t, c)
	if info.Probe != "inherited" || info.FD != "3" {
		t.Errorf("Env nil: child saw HERD_PROBE=%q NODE_CHANNEL_FD=%q, want inherited and 3", info.Probe, info.FD)
	}
}

func TestEnvSetReplaces(t *testing.T) {
	testutil.CheckFDs(t)
	t.Setenv("HERD_PARENT_ONLY", "parent")
	c := proc.Command(os.Args[0])
	c.Env = []string{
		testutil.EnvHelper + "=info",
		"HERD_PROBE=explicit",
		"PATH=" + os.Getenv("PATH"),
		ipc.EnvChannelFD + "=99",
		ipc.EnvSerialization + "=advanced",
	}
	info := infoOf(t, c)
	if info.Probe != "explicit" || info.Parent != "" {
		t.Errorf("Env set: child saw HERD_PROBE=%q HERD_PARENT_ONLY=%q, want explicit and nothing", info.Probe, info.Parent)
	}
	if info.FD != "3" || info.Mode != "json" {
		t.Errorf("child saw NODE_CHANNEL_FD=%q mode=%q, want the channel's 3 and json", info.FD, info.Mode)
	}
}

func TestDir(t *testing.T) {
	testutil.CheckFDs(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := helperCmd("info")
	c.Dir = dir
	if info := infoOf(t, c); info.Dir != dir {
		t.Errorf("child ran in %q, want %q", info.Dir, dir)
	}
}

// The default Cancel closes the channel, then sends SIGTERM: the term
// helper exits 42 only if it saw both, in that order.
func TestCommandContextCancel(t *testing.T) {
	testutil.CheckFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := proc.CommandContext(ctx, os.Args[0])
	c.Env = testutil.HelperEnv("term")
	c.Stderr = os.Stderr
	start(t, c)
	var s string
	if recvInto(t, c.Channel(), &s); s != "ready" {
		t.Fatalf("got %q, want ready", s)
	}
	cancel()
	var ee *exec.ExitError
	if err := waitExit(t, c); !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Fatalf("Wait: %v, want exit status 42", err)
	}
	evs := allEvents(t, c)
	if d := findEvent(t, evs, proc.Disconnect); !errors.Is(d.Err, ipc.ErrClosed) {
		t.Errorf("disconnect event %+v, want ErrClosed", d)
	}
}

// A child that ignores SIGTERM is killed WaitDelay after the context is
// done.
func TestCommandContextWaitDelay(t *testing.T) {
	testutil.CheckFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := proc.CommandContext(ctx, os.Args[0])
	c.Env = testutil.HelperEnv("hang")
	c.Stderr = os.Stderr
	c.WaitDelay = 100 * time.Millisecond
	start(t, c)
	pingPong(t, c)
	cancel()
	var ee *exec.ExitError
	if err := waitExit(t, c); !errors.As(err, &ee) {
		t.Fatalf("Wait: %v, want an *exec.ExitError", err)
	}
	if ev := findEvent(t, allEvents(t, c), proc.Exit); ev.Signal != syscall.SIGKILL {
		t.Errorf("exit event %+v, want SIGKILL", ev)
	}
}

// Canceling the context while Start runs must neither panic nor race
// (the default Cancel uses the channel Start creates).
func TestCommandContextCancelDuringStart(t *testing.T) {
	testutil.CheckFDs(t)
	started := 0
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		c := proc.CommandContext(ctx, os.Args[0])
		c.Env = testutil.HelperEnv("echo")
		go cancel()
		if err := c.Start(); err != nil {
			continue
		}
		started++
		waitExit(t, c)
		allEvents(t, c)
	}
	t.Logf("%d of 20 children started before the cancel", started)
}

// With Setpgid, SignalGroup reaches the child's own children.
func TestSignalGroupKillsGrandchild(t *testing.T) {
	testutil.CheckFDs(t)
	c := helperCmd("group")
	c.Setpgid = true
	start(t, c)
	var r struct{ Pid int }
	recvInto(t, c.Channel(), &r)
	gc := watchPID(t, r.Pid)
	if pgid, err := unix.Getpgid(r.Pid); err != nil || pgid != c.Pid() {
		t.Fatalf("grandchild's process group %d (%v), want %d", pgid, err, c.Pid())
	}
	if err := c.SignalGroup(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if ev := findEvent(t, allEvents(t, c), proc.Exit); ev.Signal != syscall.SIGKILL {
		t.Errorf("exit event %+v, want SIGKILL", ev)
	}
	gc.waitGone(t)
}

func TestSignalGroupNeedsSetpgid(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "echo")
	if err := c.SignalGroup(syscall.SIGTERM); err == nil {
		t.Fatal("SignalGroup without Setpgid succeeded")
	}
	pingPong(t, c)
}

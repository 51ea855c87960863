package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// TestSystemdUnitRuns runs the unit herd systemd prints as systemd would:
// ExecStart (%t a private directory) in WorkingDirectory with
// NOTIFY_SOCKET set says READY=1 once its workers are; ExecReload reloads
// them (RELOADING=1, then READY=1) and exits 0; KillSignal stops herd
// gracefully well within TimeoutStopSec.
func TestSystemdUnitRuns(t *testing.T) {
	testutil.CheckFDs(t)
	text, _, code := runHerdCmd(t, nil, "systemd", "--name", "sd", "-n", "2", "-l", "web=127.0.0.1:0",
		"--kill-timeout", "5s", "--", "python3", writePython(t))
	if code != 0 {
		t.Fatalf("herd systemd: exit %d", code)
	}
	u, err := testutil.ParseUnit(text)
	if err != nil {
		t.Fatalf("%v in:\n%s", err, text)
	}
	runtimeDir := t.TempDir() // %t
	os.Chmod(runtimeDir, 0o700)
	start, reload := unitCommand(t, u, "Service.ExecStart", runtimeDir), unitCommand(t, u, "Service.ExecReload", runtimeDir)
	if start[0] != herdBin || reload[0] != herdBin {
		t.Fatalf("ExecStart %q, ExecReload %q: want %s", start, reload, herdBin)
	}
	notify := listenNotify(t)
	ctl := filepath.Join(runtimeDir, "herd-sd", "control.sock")
	h := startCmdWith(t, ctl, []string{"NOTIFY_SOCKET=" + notify.LocalAddr().String()}, nil, start[1:]...)
	waitNotify(t, notify, "READY=1")
	st := h.waitWorkers(2)
	mustGet(t, url(t, st))
	_, errOut, code := runHerdCmd(t, nil, reload[1:]...)
	if code != 0 {
		t.Fatalf("ExecReload: exit %d: %s", code, errOut)
	}
	waitNotify(t, notify, "RELOADING=1")
	waitNotify(t, notify, "READY=1")
	if anyShared(pidsOf(h.waitWorkers(2)), pidsOf(st)) {
		t.Fatalf("ExecReload left old workers: %v, were %v", pidsOf(h.status()), pidsOf(st))
	}
	if v, _ := u.Get("Service.KillSignal"); v != "SIGTERM" {
		t.Fatalf("KillSignal=%q, want SIGTERM", v)
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd exited with %d on KillSignal", code)
	}
}

// unitCommand is a command line of the unit, with %t as runtimeDir.
func unitCommand(t *testing.T, u testutil.Unit, key, runtimeDir string) []string {
	t.Helper()
	v, err := u.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.ReplaceAll(v, "%t", runtimeDir), "\x00")
}

// listenNotify is a NOTIFY_SOCKET of the test's, as systemd's.
func listenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	dir := t.TempDir()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitNotify waits for a notify message with want in it.
func waitNotify(t *testing.T, c *net.UnixConn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(liveness))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no %q on NOTIFY_SOCKET: %v", want, err)
		}
		if strings.Contains(string(buf[:n]), want) {
			return
		}
	}
}

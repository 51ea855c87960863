package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// TestHostileLogFileLink: a --log-file that is a symbolic link (planted
// by another user, to a file herd's user may write) is refused at start,
// exit status 2, and the link's target is left alone.
func TestHostileLogFileLink(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	victim := writeFile(t, dir, "shadow", "root only\n")
	link := filepath.Join(dir, "herd.log")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runHerdCmd(t, nil, "run", "--control", controlPath(t), "--log-file", link, "--", "sleep", "1000")
	if code != 2 || !strings.Contains(errOut, "symbolic link") {
		t.Fatalf("herd run --log-file LINK: exit %d, %q; want 2 and a word of the link", code, errOut)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root only\n" {
		t.Fatalf("the link's target changed: %q", b)
	}
}

// TestHostileLogDirReadOnly: herd runs as nobody; its log file is deleted
// and its directory made read-only. herd reports the failed writes on its
// stderr, keeps running, and makes the file anew once it can.
func TestHostileLogDirReadOnly(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: herd runs as nobody, so that a read-only directory stops it")
	}
	testutil.CheckFDs(t)
	nobody := lookupNobody(t)
	dir, err := os.MkdirTemp("", "herd-ro-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logs := filepath.Join(dir, "logs")
	for _, d := range []string{dir, logs} {
		os.Mkdir(d, 0o755)
		if err := os.Chown(d, int(nobody), int(nobody)); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(logs, "herd.log")
	asNobody := func(c *exec.Cmd) {
		c.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	h := startCmdWith(t, filepath.Join(dir, "ctl", "c.sock"), nil, asNobody, "run", "--control", filepath.Join(dir, "ctl", "c.sock"),
		"-n", "1", "--log-file", logPath, "--", "sh", "-c", "while :; do echo tick; sleep 0.1; done")
	waitFile(t, logPath, "tick")
	if err := os.Chmod(logs, 0o555); err != nil {
		t.Fatal(err)
	}
	os.Remove(logPath) // root may; nobody may not make it again
	h.stderr.WaitFor(t, "permission denied")
	if !strings.Contains(h.stderr.String(), "logfile: open "+logPath) || !strings.Contains(h.stderr.String(), "writes lost") {
		t.Fatalf("herd's stderr does not name the log file and the losses:\n%s", h.stderr)
	}
	select {
	case <-h.done:
		t.Fatalf("herd exited with %d", h.Code())
	default:
	}
	os.Chmod(logs, 0o755)
	waitFile(t, logPath, "tick")
}

// waitFile waits until the file at path holds s.
func waitFile(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s", s, path)
		}
		time.Sleep(pollEvery)
	}
}

package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// writeUntil writes line to w every 20 ms until cond holds, for at most
// 10 s.
func writeUntil(t *testing.T, w *Writer, line string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not so after 10 s of writing %q", line)
		}
		w.Write([]byte(line))
		time.Sleep(20 * time.Millisecond)
	}
}

func fileHas(path, s string) func() bool {
	return func() bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(b), s)
	}
}

// TestHostileSymlinkRefused: a log path that is a symbolic link (to a
// file, or dangling) or not a regular file is refused at Open, and its
// target is left alone.
func TestHostileSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "shadow")
	os.WriteFile(victim, []byte("root only\n"), 0o600)
	cases := map[string]string{"link": victim, "dangling": filepath.Join(dir, "made-by-herd")}
	for name, target := range cases {
		path := filepath.Join(dir, name+".log")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		if w, err := Open(path, 1<<20, 2); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			if w != nil {
				w.Close()
			}
			t.Fatalf("%s: Open = %v, want a refusal naming the symbolic link", name, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "root only\n" {
		t.Fatalf("the link's target changed: %q", b)
	}
	if _, err := os.Lstat(cases["dangling"]); err == nil {
		t.Fatal("the dangling link's target was made")
	}
	fifo := filepath.Join(dir, "fifo.log")
	syscall.Mkfifo(fifo, 0o600)
	if w, err := Open(fifo, 1<<20, 2); err == nil || !strings.Contains(err.Error(), "fifo.log") {
		if w != nil {
			w.Close()
		}
		t.Fatalf("a FIFO: Open = %v, want a refusal", err)
	}
}

// TestHostileLogReplaced: a log file deleted or moved away comes back at
// a write within a second; one replaced by a symbolic link is not
// followed, and the failure is reported.
func TestHostileLogReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := Open(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var errs testutil.SyncBuffer
	w.Errors = &errs
	w.Write([]byte("first\n"))
	os.Remove(path)
	writeUntil(t, w, "after the delete\n", fileHas(path, "after the delete"))
	os.Rename(path, path+".moved")
	writeUntil(t, w, "after the move\n", fileHas(path, "after the move"))
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "first") {
		t.Fatalf("the new file has the old one's lines: %q", b)
	}
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("root only\n"), 0o600)
	os.Remove(path)
	os.Symlink(victim, path)
	writeUntil(t, w, "into the link?\n", func() bool { return strings.Contains(errs.String(), "symbolic link") })
	if b, _ := os.ReadFile(victim); string(b) != "root only\n" {
		t.Fatalf("the link's target was written to: %q", b)
	}
}

// TestHostileDiskFull: writes that fail (here EFBIG, as ENOSPC would) are
// reported at most once per report interval with what they lost, and the
// Writer writes again, and says so, once it can.
func TestHostileDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := Open(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var errs testutil.SyncBuffer
	w.Errors = &errs
	w.lost.every = 300 * time.Millisecond
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 100, Max: old.Max}); err != nil {
		t.Skipf("cannot limit file sizes: %v", err)
	}
	line := bytes.Repeat([]byte("x"), 40)
	for i := 0; i < 100; i++ {
		w.Write(append(line, '\n'))
	}
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	if got := strings.Count(errs.String(), "\n"); got != 1 || !strings.Contains(errs.String(), "file too large") {
		t.Fatalf("100 failed writes in a burst reported as:\n%s\nwant one line naming the error", errs.String())
	}
	writeUntil(t, w, "back\n", func() bool { return strings.Contains(errs.String(), "writing again") })
	if !fileHas(path, "back")() {
		t.Fatalf("writes work again, and the file lacks them")
	}
	if !strings.Contains(errs.String(), "bytes in") {
		t.Fatalf("no count of the losses in:\n%s", errs.String())
	}
}

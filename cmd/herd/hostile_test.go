package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
)

// helperEndless is helperGoWorker, except worker 1: it speaks no
// protocol, waits for the file HERD_TEST_TRIGGER, then writes on its
// channel one line that never ends, up to 96 MiB, until herd cuts it off.
func helperEndless() {
	if os.Getenv("HERD_WORKER_ID") != "1" {
		helperGoWorker()
		return
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv("HERD_TEST_TRIGGER")); err == nil {
			break
		}
	}
	fd, _ := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	ch := os.NewFile(uintptr(fd), "channel")
	ch.Write([]byte(`{"cmd":"`))
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for range 96 << 20 / len(chunk) {
		if _, err := ch.Write(chunk); err != nil {
			break
		}
	}
	time.Sleep(time.Minute)
}

// rssOf is a process's resident memory in bytes, or 0 when it is gone.
func rssOf(pid int) int64 {
	s, _ := procstat.Read(pid)
	return s.RSS
}

// TestHostileEndlessLine: a worker that writes one endless line is cut
// off at --max-message (1 MiB by default) with the reason logged, and
// herd's memory comes back within twice its idle size. (With the old
// 64 MiB limit, herd read 64 MiB and its RSS went from ~12 to ~200 MB and
// stayed there: run with --max-message 64MB to see this test fail.)
func TestHostileEndlessLine(t *testing.T) {
	testutil.CheckFDs(t)
	trigger := filepath.Join(t.TempDir(), "go")
	h := startHerd(t, []string{testutil.EnvHelper + "=endless", "HERD_TEST_ADDR=127.0.0.1:0", "HERD_TEST_TRIGGER=" + trigger},
		"-n", "2", "-l", "127.0.0.1:0", "--", testBinary(t))
	h.waitWorkers(2)
	pid := h.cmd.Process.Pid
	idle := rssOf(pid)
	for range 4 { // the lowest of a few readings
		time.Sleep(pollEvery)
		idle = min(idle, rssOf(pid))
	}
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.stderr.WaitFor(t, "message too large")
	h.stderr.WaitFor(t, "msg=exit worker=1 ")
	peak := rssOf(pid)
	deadline := time.Now().Add(time.Minute)
	for rss := peak; rss > 2*idle; rss = rssOf(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("herd's RSS is %d KiB a minute after the attack, idle %d KiB (peak seen %d KiB)", rss>>10, idle>>10, peak>>10)
		}
		peak = max(peak, rss)
		time.Sleep(pollEvery)
	}
	t.Logf("herd's RSS: idle %d KiB, after the cut-off %d KiB, now %d KiB", idle>>10, peak>>10, rssOf(pid)>>10)
	if !strings.Contains(h.stderr.String(), `detail="channel: killing the worker"`) {
		t.Errorf("no cut-off reason in the log:\n%s", h.stderr)
	}
	h.waitWorkers(2)
}

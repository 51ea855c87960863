package main_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/control"

	"github.com/herdhq/herd/internal/testutil"
)

// TestHostileControlClients: 300 clients of herd's own user send endless
// lines to its control socket for a few seconds. herd's open fds stay
// within MaxConns of idle, its RSS stays bounded, herd status answers
// throughout, and within a minute of the attack herd's RSS is back within
// twice its idle RSS.
func TestHostileControlClients(t *testing.T) {
	testutil.SkipIfShort(t, "300 clients' attack for seconds")
	testutil.CheckFDs(t)
	h := startHerd(t, nil, "-n", "1", "--", "sleep", "1000")
	h.waitWorkers(1)
	pid := h.cmd.Process.Pid
	idleRSS, idleFDs := rssOf(pid), fdsOf(pid)
	maxRSS, maxFDs := floodControl(t, h, 300, 8*time.Second)
	t.Logf("idle: %d kB RSS, %d fds; under attack: at most %d kB, %d fds", idleRSS>>10, idleFDs, maxRSS>>10, maxFDs)
	if maxFDs > idleFDs+control.MaxConns+8 {
		t.Errorf("herd held %d fds under the attack, idle %d: want at most %d connections", maxFDs, idleFDs, control.MaxConns)
	}
	if maxRSS > idleRSS+64<<20 {
		t.Errorf("herd's RSS reached %d kB under the attack (idle %d kB)", maxRSS>>10, idleRSS>>10)
	}
	deadline := time.Now().Add(time.Minute)
	for rssOf(pid) > 2*idleRSS {
		if time.Now().After(deadline) {
			t.Fatalf("herd's RSS is %d kB a minute after the attack, idle %d kB", rssOf(pid)>>10, idleRSS>>10)
		}
		time.Sleep(time.Second)
	}
	h.stderr.WaitFor(t, "connections refused")
}

// floodControl runs n clients sending endless lines to h's control socket
// for d, asking herd status meanwhile, and returns the most RSS and fds
// herd had.
func floodControl(t *testing.T, h *herdRun, n int, d time.Duration) (maxRSS int64, maxFDs int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sendEndlessLine(ctx, h.ctl)
			}
		}()
	}
	for ctx.Err() == nil {
		h.status() // fails the test if herd does not answer
		maxRSS, maxFDs = max(maxRSS, rssOf(h.cmd.Process.Pid)), max(maxFDs, fdsOf(h.cmd.Process.Pid))
		time.Sleep(200 * time.Millisecond)
	}
	return maxRSS, maxFDs
}

// sendEndlessLine connects to path and sends bytes without a newline
// until herd closes the connection or ctx ends.
func sendEndlessLine(ctx context.Context, path string) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		time.Sleep(10 * time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// fdsOf is the number of pid's open file descriptors.
func fdsOf(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(ents)
}

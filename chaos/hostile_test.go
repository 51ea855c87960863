//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
)

// startDaemon starts a sleeper in a session of its own (setsid), as a
// worker that daemonises a child would, and records "WORKER DAEMON" pids
// in HERD_CHAOS_DIR/daemon-WORKER.
func startDaemon(dir string) {
	c := exec.Command(os.Args[0])
	c.Env = testutil.HelperEnv("sleeper")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		os.Exit(7)
	}
	go c.Wait()
	rec := fmt.Sprintf("%d %d", os.Getpid(), c.Process.Pid)
	os.WriteFile(filepath.Join(dir, "daemon-"+strconv.Itoa(os.Getpid())), []byte(rec), 0o644)
}

// recordedChildren waits for want "WORKER CHILD" records in dir/PREFIX*
// and returns them, worker pid to child pid.
func recordedChildren(t *testing.T, dir, prefix string, want int) map[int]int {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		got := map[int]int{}
		files, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if fs := strings.Fields(string(b)); len(fs) == 2 {
				w, _ := strconv.Atoi(fs[0])
				c, _ := strconv.Atoi(fs[1])
				got[w] = c
			}
		}
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not record their children: %v", files)
		}
		time.Sleep(pollEvery)
	}
}

// waitAllGone waits up to d for every pid to be gone and returns those left.
func waitAllGone(pids []int, d time.Duration) []int {
	var left []int
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		left = slices.DeleteFunc(slices.Clone(pids), func(p int) bool { return !procstat.Alive(p) })
		if len(left) == 0 || time.Now().After(end) {
			return left
		}
	}
}

// TestChaosDaemons runs workers that each start a daemon in a session of
// its own (setsid), under load: a killed worker's daemon must die with
// it, and after SIGKILL of herd every worker and daemon must be gone.
func TestChaosDaemons(t *testing.T) {
	h := startHerd(t, "worker", []string{envGrandchild + "=setsid"}, "-n", "2", "--kill-timeout", "10s")
	h.waitWorkers(2)
	daemons := recordedChildren(t, h.dir, "daemon-", 2)
	var all []int
	t.Cleanup(func() { // the sleepers must not outlive the test, whatever happened
		for _, p := range all {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	for w, d := range daemons {
		all = append(all, w, d)
	}
	l := startLoad(h.url())
	time.Sleep(300 * time.Millisecond)
	var victim int
	for w := range daemons {
		victim = w
		break
	}
	t0 := time.Now()
	syscall.Kill(victim, syscall.SIGKILL)
	left := waitAllGone([]int{victim, daemons[victim]}, 15*time.Second)
	report(t, "SIGKILL of a worker whose daemon (setsid) sleeps: worker and daemon gone after %s (left: %v)",
		time.Since(t0).Round(time.Millisecond), left)
	if len(left) > 0 {
		t.Errorf("15 s after SIGKILL of worker %d, still running: %v (its daemon: %d)", victim, left, daemons[victim])
	}
	h.waitWorkers(2)
	for w, d := range recordedChildren(t, h.dir, "daemon-", 3) {
		all = append(all, w, d)
	}
	t1 := time.Now()
	h.cmd.Process.Kill()
	left = waitAllGone(all, 15*time.Second)
	l.finish()
	report(t, "SIGKILL of herd whose workers each started a daemon (setsid): %d processes, all gone after %s (left: %v)",
		len(all), time.Since(t1).Round(time.Millisecond), left)
	if len(left) > 0 {
		t.Errorf("15 s after SIGKILL of herd, still running: %v of %v", left, all)
	}
}

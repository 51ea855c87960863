//go:build chaos

package chaos

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
)

// TestChaos runs one herd of 4 Go workers (round-robin) through every
// fault in turn, under load: random SIGKILLs, rolling reloads, workers
// flooding their channel; then checks that herd's fds and goroutines are
// back where they started.
func TestChaos(t *testing.T) {
	testutil.CheckFDs(t)
	const n = 4
	h := startHerd(t, "worker", nil, "-n", strconv.Itoa(n), "--policy", "rr",
		"--max-restarts", "-1", "--restart-window", "500ms", "--kill-timeout", "10s")
	h.waitWorkers(n)
	warm := startLoad(h.url())
	time.Sleep(time.Second)
	warm.finish()
	if fs := warm.failed(); len(fs) > 0 {
		t.Fatalf("warm-up: %d requests failed:%s", len(fs), describe(fs, 5))
	}
	time.Sleep(500 * time.Millisecond)
	fd0, g0 := h.counts(t)
	rss0, _ := h.rss()
	idle := 1 << 30 // sockets of an idle worker: its channel and the like
	for _, w := range h.workers() {
		idle = min(idle, socketCount(w))
	}
	report(t, "herd pid %d, %d workers (rr), warm-up %d requests at %.0f/s, none failed; herd at start: %d fds, %d goroutines, RSS %.1f MiB",
		h.pid(), n, warm.ok.Load(), warm.rate(), fd0, g0, rss0)

	t.Run("kill", func(t *testing.T) { chaosKill(t, h, n, idle) })
	t.Run("reload", func(t *testing.T) { chaosReload(t, h, n) })
	for _, mode := range []string{"garbage", "huge", "strayfd", "manyfds", "noread", "ports", "messages", "stateconns"} {
		t.Run("flood-"+mode, func(t *testing.T) { chaosFlood(t, h, n, mode) })
	}
	t.Run("leaks", func(t *testing.T) {
		h.waitWorkers(n)
		var fd, g int
		deadline := time.Now().Add(30 * time.Second)
		for {
			fd, g = h.counts(t)
			if fd <= fd0 && g <= g0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		rss, peak := h.rss()
		for end := time.Now().Add(time.Minute); rss > 2*rss0 && time.Now().Before(end); rss, _ = h.rss() {
			time.Sleep(time.Second) // the bound: back within 2x the start within a minute
		}
		report(t, "herd after everything: %d fds (start %d), %d goroutines (start %d), RSS %.1f MiB (start %.1f, peak %.1f)",
			fd, fd0, g, g0, rss, rss0, peak)
		if fd > fd0 || g > g0 {
			t.Errorf("herd leaked: %d fds (start %d), %d goroutines (start %d)\n%s", fd, fd0, g, g0, fdList(h.pid()))
		}
		if rss > 2*rss0 {
			t.Errorf("herd's RSS is %.1f MiB a minute after the attacks, more than twice its %.1f MiB at the start", rss, rss0)
		}
	})
	if !h.Running() {
		t.Fatalf("herd exited with %d", h.Code())
	}
}

// counts is herd's fd count (from /proc) and goroutine count (from herd
// status), the lowest of 3 readings.
func (h *herdProc) counts(t *testing.T) (fds, goroutines int) {
	t.Helper()
	fds, goroutines = 1<<30, 1<<30
	for i := 0; i < 3; i++ {
		st, err := h.status()
		if err != nil {
			t.Fatalf("herd status: %v", err)
		}
		if st.Goroutines == 0 {
			t.Fatalf("herd status has no goroutine count")
		}
		fds, goroutines = min(fds, h.fds()), min(goroutines, st.Goroutines)
		time.Sleep(100 * time.Millisecond)
	}
	return
}

func fdList(pid int) string {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name())
		out = append(out, e.Name()+" -> "+target)
	}
	return strings.Join(out, "\n")
}

// chaosKill SIGKILLs a random worker every 200 ms under load. Herd must
// stay up and replace every worker, and every failed request must have
// been in flight while a killed worker was dying.
func chaosKill(t *testing.T, h *herdProc, n, idle int) {
	dur := pick(30*time.Second, 5*time.Second)
	l := startLoad(h.url())
	time.Sleep(300 * time.Millisecond)
	var wins []window
	killed := map[int]bool{}
	var clientInFlight, workerConns, skipped int
	var deathMax time.Duration
	tick := time.NewTicker(200 * time.Millisecond)
	for end := time.Now().Add(dur); time.Now().Before(end); {
		<-tick.C
		ws := h.workers()
		if len(ws) == 0 {
			skipped++
			continue
		}
		victim := ws[rand.IntN(len(ws))]
		workerConns += max(0, socketCount(victim)-idle)
		clientInFlight += int(l.inFlight.Load())
		from := time.Now()
		syscall.Kill(victim, syscall.SIGKILL)
		if !waitGone(victim, 10*time.Second) {
			t.Fatalf("worker %d still alive 10 s after SIGKILL", victim)
		}
		wins = append(wins, window{from, time.Now()})
		deathMax = max(deathMax, time.Since(from))
		killed[victim] = true
		if !h.Running() {
			tick.Stop()
			l.finish()
			t.Fatalf("herd exited with %d during the kills", h.Code())
		}
	}
	tick.Stop()
	// A killed worker may still be listed until herd has reaped it: wait
	// for n ready workers none of which was killed.
	var st *control.Status
	for deadline := time.Now().Add(liveness); ; time.Sleep(pollEvery) {
		st = h.waitWorkers(n)
		listed := slices.ContainsFunc(st.Workers, func(w control.Worker) bool { return killed[w.Pid] })
		if !listed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed workers are still listed after %s: %+v", liveness, st.Workers)
		}
	}
	restarts := 0
	for _, w := range st.Workers {
		restarts += w.Restarts
	}
	for pid := range killed {
		if procstat.Alive(pid) {
			t.Errorf("killed worker %d still runs", pid)
		}
	}
	time.Sleep(300 * time.Millisecond)
	l.finish()
	fs := l.failed()
	un := unexplained(fs, wins)
	report(t, "%s of SIGKILL every 200 ms: %d workers killed (%d ticks with no worker alive), herd up throughout, %d workers ready after (restarts counted by herd: %d), none of them a killed one; "+
		"load: %d clients, new connection per request, %d requests ok (%.0f/s), %d failed (%d hung), %d of them outside a kill window; "+
		"in flight at the kills: %d requests (client side), %d connections open in the killed workers; slowest death seen %s",
		dur, len(killed), skipped, len(st.Workers), restarts, loadClients, l.ok.Load(), l.rate(), len(fs), hung(fs), len(un),
		clientInFlight, workerConns, deathMax.Round(time.Millisecond))
	if len(un) > 0 {
		t.Errorf("%d requests failed that were not in flight while a killed worker was dying:%s", len(un), describe(un, 10))
	}
	if len(killed) == 0 {
		t.Errorf("no worker was killed")
	}
}

// chaosReload runs rolling reloads in a row under load: nothing may fail.
func chaosReload(t *testing.T, h *herdProc, n int) {
	reloads := pick(20, 5)
	before, err := h.status()
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(h.url())
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	var longest time.Duration
	for i := 0; i < reloads; i++ {
		r0 := time.Now()
		if out, err := h.herdCtl("reload"); err != nil {
			l.finish()
			t.Fatalf("herd reload %d: %v: %s", i+1, err, out)
		}
		longest = max(longest, time.Since(r0))
	}
	took := time.Since(t0)
	time.Sleep(300 * time.Millisecond)
	l.finish()
	st := h.waitWorkers(n)
	for _, w := range st.Workers {
		for _, b := range before.Workers {
			if w.Pid == b.Pid {
				t.Errorf("worker %d survived %d reloads", w.Pid, reloads)
			}
		}
	}
	fs := l.failed()
	report(t, "%d rolling reloads in a row (herd reload, %d workers each) in %s (longest %s): %d requests ok (%.0f/s), %d failed",
		reloads, n, took.Round(time.Millisecond), longest.Round(time.Millisecond), l.ok.Load(), l.rate(), len(fs))
	if len(fs) > 0 {
		t.Errorf("%d requests failed during the reloads:%s", len(fs), describe(fs, 10))
	}
}

// chaosFlood scales up by one worker, which takes the flood token and
// floods its channel; herd must cut it off and replace it while the
// other workers serve without a failure, then scale back.
func chaosFlood(t *testing.T, h *herdProc, n int, mode string) {
	claimedBefore, _ := filepath.Glob(filepath.Join(h.dir, "flood-*.claimed"))
	tmp := filepath.Join(h.dir, "token.tmp")
	if err := os.WriteFile(tmp, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, floodToken)); err != nil {
		t.Fatal(err)
	}
	l := startLoad(h.url())
	time.Sleep(300 * time.Millisecond)
	if out, err := h.herdCtl("scale", strconv.Itoa(n+1)); err != nil {
		l.finish()
		t.Fatalf("herd scale: %v: %s", err, out)
	}
	var flooder int
	deadline := time.Now().Add(liveness)
	for flooder == 0 {
		claimed, _ := filepath.Glob(filepath.Join(h.dir, "flood-*.claimed"))
		for _, c := range claimed {
			if !slices.Contains(claimedBefore, c) {
				flooder, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c), "flood-"), ".claimed"))
			}
		}
		if time.Now().After(deadline) {
			l.finish()
			t.Fatalf("no worker took the flood token")
		}
		time.Sleep(time.Millisecond)
	}
	h.Track(flooder)
	seen := time.Now()
	if !waitGone(flooder, liveness) {
		l.finish()
		t.Fatalf("the worker flooding its channel (%s, pid %d) was not cut off", mode, flooder)
	}
	cut := time.Since(seen)
	h.waitWorkers(n + 1)
	if out, err := h.herdCtl("scale", strconv.Itoa(n)); err != nil {
		l.finish()
		t.Fatalf("herd scale: %v: %s", err, out)
	}
	h.waitWorkers(n)
	time.Sleep(300 * time.Millisecond)
	l.finish()
	fs := l.failed()
	why := ""
	for _, line := range strings.Split(h.out.String(), "\n") {
		if strings.Contains(line, "pid="+strconv.Itoa(flooder)) && strings.Contains(line, "channel") {
			why = line
			break
		}
	}
	rss, peak := h.rss()
	report(t, "a worker flooding its channel (%s) was cut off %s after it took the token and replaced; meanwhile %d requests ok (%.0f/s), %d failed; herd RSS %.1f MiB (peak %.1f); herd said: %s",
		mode, cut.Round(10*time.Microsecond), l.ok.Load(), l.rate(), len(fs), rss, peak, strings.TrimSpace(why))
	if len(fs) > 0 {
		t.Errorf("%d requests failed while a worker flooded its channel:%s", len(fs), describe(fs, 10))
	}
	if logged := countLines(h.out.String(), "msg=message", "pid="+strconv.Itoa(flooder)); logged > maxLoggedMessages {
		t.Errorf("herd logged %d messages of the flooding worker, more than %d", logged, maxLoggedMessages)
	}
	if !h.Running() {
		t.Fatalf("herd exited with %d", h.Code())
	}
}

// maxLoggedMessages bounds the log lines of one worker's messages in a
// flood test: herd rate-limits them (issue 12, row 8).
const maxLoggedMessages = 5000

// countLines counts the lines of out that hold every one of words.
func countLines(out string, words ...string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(line, w) }) {
			n++
		}
	}
	return n
}

// TestChaosPrimaryKilled kills herd with SIGKILL under load: every
// worker, and the child each one started, must be gone.
func TestChaosPrimaryKilled(t *testing.T) {
	h := startHerd(t, "worker", []string{envGrandchild + "=1"}, "-n", "2", "--kill-timeout", "10s")
	st := h.waitWorkers(2)
	var pids []int
	for _, w := range st.Workers {
		pids = append(pids, w.Pid)
	}
	var grandchildren []int
	for _, gc := range recordedChildren(t, h.dir, "gc-", 2) {
		grandchildren = append(grandchildren, gc)
	}
	t.Cleanup(func() { // the sleepers must not outlive the test, whatever happened
		for _, p := range grandchildren {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	l := startLoad(h.url())
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	h.cmd.Process.Kill()
	all := append(slices.Clone(pids), grandchildren...)
	var left []int
	var took, workersGone time.Duration
	for end := t0.Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		left = slices.DeleteFunc(slices.Clone(all), func(p int) bool { return !procstat.Alive(p) })
		took = time.Since(t0)
		if workersGone == 0 && !slices.ContainsFunc(pids, procstat.Alive) {
			workersGone = took
		}
		if len(left) == 0 || time.Now().After(end) {
			break
		}
	}
	l.finish()
	fs := l.failed()
	if len(left) == 0 {
		report(t, "SIGKILL of herd under load (%d requests ok before; %d failed once herd was gone): its 2 workers were gone after %s, and they and their 2 children after %s (target: 1 s)",
			l.ok.Load(), len(fs), workersGone.Round(time.Millisecond), took.Round(time.Millisecond))
	} else {
		w := "still running"
		if workersGone > 0 {
			w = "gone after " + workersGone.Round(time.Millisecond).String()
		}
		report(t, "SIGKILL of herd under load: its 2 workers %s; 30 s after the kill, %d of the %d processes (workers %v, their children %v) still ran: %v",
			w, len(left), len(all), pids, grandchildren, left)
		t.Errorf("processes left 30 s after herd was killed: %v (workers %v, their children %v)", left, pids, grandchildren)
	}
}

// TestChaosCrashAtStart runs workers that exit at once: herd must give
// up within the restart window and exit with status 4 (README).
func TestChaosCrashAtStart(t *testing.T) {
	const window = 20 * time.Second
	t0 := time.Now()
	h := startHerd(t, "crash", nil, "-n", "2", "--max-restarts", "3", "--restart-window", window.String())
	select {
	case <-h.done:
	case <-time.After(2 * liveness):
		t.Fatalf("herd still runs %s after its workers started crashing", 2*liveness)
	}
	took := time.Since(t0)
	exits := strings.Count(h.out.String(), "chaos: crashing at start")
	report(t, "workers that exit at once (2 slots, --max-restarts 3 --restart-window %s): herd gave up after %d worker starts, %s after it started, with exit status %d (README: 4)",
		window, exits, took.Round(time.Millisecond), h.Code())
	if h.Code() != 4 {
		t.Errorf("exit status %d, want 4", h.Code())
	}
	if took >= window {
		t.Errorf("gave up after %s, not within the %s window", took, window)
	}
}

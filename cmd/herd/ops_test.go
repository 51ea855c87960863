package main_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// scrape reads herd's /metrics as "name{labels}" → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetrics scrapes until cond holds.
func waitMetrics(t *testing.T, addr, what string, cond func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		m := scrape(t, addr)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, m)
		}
		time.Sleep(pollEvery)
	}
}

// TestMetrics scrapes herd run --metrics: the counters move with real
// connections and restarts, and a dead worker's series go away.
func TestMetrics(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "2", "--metrics", "127.0.0.1:0", "--policy", "leastconn")
	st := h.waitWorkers(2)
	if st.Metrics == "" {
		t.Fatalf("status names no metrics address: %+v", st)
	}
	m := scrape(t, st.Metrics)
	if m[`herd_workers{state="ready"}`] != 2 || m["herd_workers_desired"] != 2 || m["process_resident_memory_bytes"] <= 0 {
		t.Fatalf("metrics of two ready workers: %v", m)
	}
	u := url(t, st)
	var victim string
	for i := 0; i < 10; i++ {
		victim = strings.Fields(mustGet(t, u))[2]
	}
	waitMetrics(t, st.Metrics, "10 connections", func(m map[string]float64) bool {
		return m["herd_connections_handed_total"] == 10
	})
	pid, _ := strconv.Atoi(victim)
	syscall.Kill(pid, syscall.SIGKILL)
	m = waitMetrics(t, st.Metrics, "a restart", func(m map[string]float64) bool {
		return m["herd_restarts_total"] == 1 && m[`herd_workers{state="ready"}`] == 2
	})
	if m["herd_worker_crashes_total"] != 1 || m["herd_worker_starts_total"] != 3 {
		t.Errorf("after a kill: %v crashes, %v starts", m["herd_worker_crashes_total"], m["herd_worker_starts_total"])
	}
	for name := range m {
		if strings.Contains(name, `pid="`+victim+`"`) {
			t.Errorf("the dead worker is still in the metrics: %s", name)
		}
	}
	h.status() // record the new pids for the cleanup check
}

// TestMetricsPortInUse: a --metrics address that cannot be bound is a
// bind error (status 3), before any worker starts.
func TestMetricsPortInUse(t *testing.T) {
	testutil.CheckFDs(t)
	h := startGoWorkers(t, "1", "--metrics", "127.0.0.1:0")
	st := h.waitWorkers(1)
	h2 := startGoWorkers(t, "1", "--metrics", st.Metrics)
	if code := h2.wait(liveness); code != 3 {
		t.Fatalf("herd exited with %d, want 3", code)
	}
	if !strings.Contains(h2.stderr.String(), "metrics") {
		t.Errorf("stderr does not say metrics:\n%s", h2.stderr)
	}
}

// TestLogRotationUnderFlood: a worker floods stdout; --log-file keeps at
// most --log-max-files files of at most --log-max-size each, and herd
// logs reads them back in order.
func TestLogRotationUnderFlood(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "logs", "herd.log")
	const maxSize, maxFiles = 64 << 10, 3
	h := startHerd(t, []string{testutil.EnvHelper + "=flood"}, "-n", "1", "--log-file", logPath,
		"--log-max-size", "64KB", "--log-max-files", strconv.Itoa(maxFiles), "--", testBinary(t))
	h.waitWorkers(1)
	checkFiles := func() int {
		ents, err := os.ReadDir(filepath.Dir(logPath))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) > maxFiles {
			t.Fatalf("%d log files, want at most %d", len(ents), maxFiles)
		}
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() > maxSize {
				t.Fatalf("%s has %d bytes, over %d", e.Name(), fi.Size(), maxSize)
			}
		}
		return len(ents)
	}
	deadline := time.Now().Add(liveness)
	for !lastFloodLogged(logPath) {
		checkFiles()
		if time.Now().After(deadline) {
			t.Fatalf("the flood did not end in the log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := checkFiles(); n != maxFiles {
		t.Fatalf("%d log files after 2 MB, want %d", n, maxFiles)
	}
	if h.stdout.String() != "" {
		t.Errorf("with --log-file, herd wrote to its stdout:\n%.500s", h.stdout)
	}

	out, errOut, code := h.herdCtl("logs")
	if code != 0 {
		t.Fatalf("herd logs: exit %d: %s", code, errOut)
	}
	checkFloodOrder(t, out)
	current, _ := os.ReadFile(logPath)
	if strings.Count(out, "] flood ") <= strings.Count(string(current), "] flood ") {
		t.Errorf("herd logs printed no more than the current file: not the rotated ones")
	}
	out, _, _ = h.herdCtl("logs", "--worker", "1", "-n", "5")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("herd logs --worker 1 -n 5 printed %d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "[1:") && !strings.Contains(l, " worker=1 ") {
			t.Errorf("herd logs --worker 1 printed %q", l)
		}
	}
	if out, _, _ := h.herdCtl("logs", "--worker", "2"); out != "" {
		t.Errorf("herd logs --worker 2 printed lines of no worker 2:\n%.300s", out)
	}
	out2, _, code := runHerdCmd(t, nil, "logs", "--log-file", logPath, "-n", "5", "--worker", "1")
	if code != 0 || out2 != out {
		t.Errorf("herd logs --log-file: exit %d, %q; want %q", code, out2, out)
	}
	followLogs(t, h)
}

// followLogs runs herd logs -f, and checks new lines come out.
func followLogs(t *testing.T, h *herdRun) {
	t.Helper()
	cmd := exec.Command(herdBin, "logs", "-f", "-n", "1", "--control", h.ctl)
	buf := &syncBuffer{}
	cmd.Stdout = buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	buf.WaitFor(t, "\n")
	scale(t, h, "2")
	buf.WaitFor(t, "] quiet worker")
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("herd logs -f after SIGINT: %v", err)
	}
}

// lastFloodLogged reports whether the worker's last flood line is in
// the log.
func lastFloodLogged(path string) bool {
	for _, name := range []string{path, path + ".1"} {
		if b, _ := os.ReadFile(name); strings.Contains(string(b), fmt.Sprintf("flood %06d ", floodLines-1)) {
			return true
		}
	}
	return false
}

// checkFloodOrder checks each worker's flood lines come in order, up to
// its last.
func checkFloodOrder(t *testing.T, out string) {
	t.Helper()
	next := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		prefix, rest, ok := strings.Cut(line, "] flood ")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(rest[:6])
		if seen, ok := next[prefix]; ok && n != seen {
			t.Fatalf("%s: line %d after %d", prefix, n, seen-1)
		}
		next[prefix] = n + 1
	}
	if len(next) != 1 {
		t.Fatalf("herd logs shows %d workers' floods", len(next))
	}
	for p, n := range next {
		if n != floodLines {
			t.Errorf("%s: the last line is %d, want %d", p, n-1, floodLines-1)
		}
	}
}

// TestMaxMemory: a worker that allocates past --max-memory is replaced,
// gracefully.
func TestMaxMemory(t *testing.T) {
	testutil.SkipIfShort(t, "a worker allocating past the limit (cluster's TestBloatedWorkerIsReplaced is the fast one)")
	testutil.CheckFDs(t)
	h := startHerd(t, []string{testutil.EnvHelper + "=bloat", "HERD_TEST_ADDR=127.0.0.1:0"},
		"-n", "2", "-l", "127.0.0.1:0", "--max-memory", "128MB", "--", testBinary(t))
	st := h.waitWorkers(2)
	var bloated control.Worker
	for _, w := range st.Workers {
		if w.ID == 1 {
			bloated = w
		}
	}
	h.stderr.WaitFor(t, "msg=replace worker=1 ")
	if !waitGone(bloated.Pid, liveness) {
		t.Fatalf("the bloated worker %d still runs", bloated.Pid)
	}
	st = h.waitWorkers(2)
	for _, w := range st.Workers {
		if w.ID == 1 {
			t.Fatalf("worker 1 is still there: %+v", st.Workers)
		}
	}
	errOut := h.stderr.String()
	for _, want := range []string{`detail="reason=memory"`, "above the limit of 128.0 MiB", fmt.Sprintf("msg=exit worker=1 pid=%d code=0 expected=true", bloated.Pid)} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestHungWorker: a Go worker whose heartbeats stop is detected within
// --heartbeat-timeout, sent SIGABRT, and its goroutines' stacks are in
// the log; it is replaced.
func TestHungWorker(t *testing.T) {
	testutil.SkipIfShort(t, "a heartbeat timeout (cluster's TestWedgedWorkerPrintsItsStacks is the fast one)")
	testutil.CheckFDs(t)
	logPath := filepath.Join(t.TempDir(), "herd.log")
	h := startHerd(t, []string{testutil.EnvHelper + "=spin", "HERD_TEST_ADDR=127.0.0.1:0", "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1"},
		"-n", "2", "-l", "127.0.0.1:0", "--heartbeat-timeout", "3s", "--log-file", logPath, "--", testBinary(t))
	h.waitWorkers(2)
	deadline := time.Now().Add(liveness)
	for !logHas(logPath, "msg=exit worker=1 ") {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("worker 1 did not exit:\n%s", b)
		}
		time.Sleep(pollEvery)
	}
	st := h.waitWorkers(2)
	for _, w := range st.Workers {
		if w.ID == 1 {
			t.Fatalf("the hung worker 1 is still there: %+v", st.Workers)
		}
	}
	b, _ := os.ReadFile(logPath)
	log := string(b)
	for _, want := range []string{"msg=suspect worker=1 ", "msg=replace worker=1 ", `detail="reason=heartbeat"`,
		"] SIGABRT: abort", "] goroutine ", "(*worker).heartbeat"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

func logHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}

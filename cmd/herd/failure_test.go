package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
)

// TestGiveUp: a worker that always exits makes herd give up, with exit
// status 4, inside the restart window.
func TestGiveUp(t *testing.T) {
	testutil.CheckFDs(t)
	h := startHerd(t, nil, "-n", "1", "--max-restarts", "3", "--restart-window", "10m",
		"--", "sh", "-c", "echo about to fail >&2; exit 3")
	if code := h.wait(liveness); code != 4 {
		t.Fatalf("herd exited with %d, want 4 (gave up)", code)
	}
	errOut := h.stderr.String()
	for _, want := range []string{"msg=giveup", "gave up", "exited with code 3", "] about to fail"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestUsageErrors: bad flags, arguments and config files are reported
// by name, with exit status 2, before anything starts.
func TestUsageErrors(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	badYAML := writeFile(t, dir, "bad.yaml", "workers: [1\n")
	badKey := writeFile(t, dir, "key.yaml", "workers: 2\nwrokers: 3\n")
	badDur := writeFile(t, dir, "dur.yaml", "kill-timeout: soon\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--nope", "--", "true"}, "--nope"},
		{[]string{"run", "-n", "0", "--", "true"}, "--workers must be at least 1"},
		{[]string{"run", "-n", "two", "--", "true"}, `"two"`},
		{[]string{"run", "--policy", "random", "--", "true"}, "--policy"},
		{[]string{"run", "--listen", "localhost", "--", "true"}, "--listen localhost"},
		{[]string{"run", "--listen", "sctp://127.0.0.1:1", "--", "true"}, "unknown network"},
		{[]string{"run", "--log-format", "xml", "--", "true"}, "--log-format"},
		{[]string{"run", "--max-restarts", "0", "--", "true"}, "--max-restarts"},
		{[]string{"run", "--idle-grace", "-1s", "--", "true"}, "--idle-grace"},
		{[]string{"run"}, "no command to run"},
		{[]string{"run", "--", "/nonexistent/program"}, "/nonexistent/program"},
		{[]string{"run", "-c", filepath.Join(dir, "missing.yaml"), "--", "true"}, "missing.yaml"},
		{[]string{"run", "-c", badYAML, "--", "true"}, "bad.yaml"},
		{[]string{"run", "-c", badKey, "--", "true"}, "line 2: wrokers: unknown key"},
		{[]string{"run", "-c", badDur, "--", "true"}, "line 1: kill-timeout"},
		{[]string{"scale", "many"}, "scale"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		_, errOut, code := runHerdCmd(t, nil, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("herd %q: exit %d, stderr %q; want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestConfigFile: settings come from the YAML file, and flags win.
func TestConfigFile(t *testing.T) {
	testutil.CheckFDs(t)
	cfg := writeFile(t, t.TempDir(), "herd.yaml", strings.Join([]string{
		"workers: 3",
		"listen:",
		"  - 127.0.0.1:0",
		"policy: leastconn",
		"kill-timeout: 20s",
		"command: [" + testBinary(t) + "]",
	}, "\n"))
	h := startHerd(t, goWorkerEnv(), "-c", cfg, "-n", "1")
	st := h.waitWorkers(1)
	if st.Policy != "leastconn" || len(st.Listen) != 1 {
		t.Fatalf("status %+v: want policy leastconn and one address from the config", st)
	}
	mustGet(t, url(t, st))
}

// TestPortInUse: herd binds --listen before it forks, and a port in use
// ends it with status 3 and a message that names the address.
func TestPortInUse(t *testing.T) {
	testutil.CheckFDs(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := startHerd(t, nil, "-l", l.Addr().String(), "--", "sleep", "1000")
	if code := h.wait(liveness); code != 3 {
		t.Fatalf("herd exited with %d, want 3", code)
	}
	errOut := h.stderr.String()
	if !strings.Contains(errOut, l.Addr().String()) || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("stderr does not name the address in use:\n%s", errOut)
	}
	if strings.Contains(errOut, "msg=fork") {
		t.Fatalf("herd forked a worker before binding:\n%s", errOut)
	}
}

// TestKilledHerdLeavesNoWorker: SIGKILL of herd takes its workers along,
// even ones that never read herd's channel.
func TestKilledHerdLeavesNoWorker(t *testing.T) {
	testutil.CheckFDs(t)
	h := startHerd(t, nil, "-n", "2", "-l", "127.0.0.1:0", "--", "python3", writePython(t))
	st := h.waitWorkers(2)
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.wait(liveness)
	for pid := range pidsOf(st) {
		if !waitGone(pid, workersGone) {
			t.Errorf("worker %d is alive after herd was killed", pid)
		}
	}
}

// TestKilledHerdWatchdog: SIGKILL of herd takes the workers' own children
// along too. Nothing but herd's watchdog reaches them (the parent-death
// signal kills the workers only, and they are in the dead workers'
// process groups), and the watchdog is the shell program, not a second
// herd.
func TestKilledHerdWatchdog(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	h := startHerd(t, []string{"HERD_TEST_DIR=" + dir}, "-n", "2", "--",
		"sh", "-c", `sleep 1000 & echo $! >"$HERD_TEST_DIR/gc-$HERD_WORKER_ID"; exec sleep 1000`)
	st := h.waitWorkers(2)
	var grandchildren []int
	for deadline := time.Now().Add(liveness); len(grandchildren) < 2; time.Sleep(pollEvery) {
		grandchildren = grandchildren[:0]
		for _, id := range []string{"1", "2"} {
			b, _ := os.ReadFile(filepath.Join(dir, "gc-"+id))
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				grandchildren = append(grandchildren, pid)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not start their children")
		}
	}
	t.Cleanup(func() { // whatever happened
		for _, pid := range grandchildren {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	var wd int
	for _, c := range procstat.Children(h.cmd.Process.Pid) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline")
		if args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"); args[len(args)-1] == "herd-watchdog" {
			if len(args) != 4 || args[0] != "/bin/sh" || args[1] != "-c" {
				t.Fatalf("watchdog %d runs %q, want /bin/sh -c SCRIPT herd-watchdog", c, args)
			}
			wd = c
		}
	}
	if wd == 0 {
		t.Fatalf("herd %d has no watchdog among its children %v", h.cmd.Process.Pid, procstat.Children(h.cmd.Process.Pid))
	}
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.wait(liveness)
	for pid := range pidsOf(st) {
		if !waitGone(pid, workersGone) {
			t.Errorf("worker %d is alive after herd was killed", pid)
		}
	}
	for _, pid := range grandchildren {
		if !waitGone(pid, workersGone) {
			t.Errorf("a worker's child, %d, is alive after herd was killed", pid)
		}
	}
	if !waitGone(wd, workersGone) {
		t.Errorf("the watchdog %d is alive after herd was killed", wd)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

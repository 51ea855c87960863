package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// helperWhereAmI is a plain Go program that prints its environment
// variable WHO and its working directory, then runs until stopped.
func helperWhereAmI() {
	wd, _ := os.Getwd()
	fmt.Printf("go WHO=%s NODE_ENV=%s CWD=%s\n", os.Getenv("WHO"), os.Getenv("NODE_ENV"), wd)
	select {}
}

// nodeWhere and pythonWhere print the same as helperWhereAmI; the Node
// one listens on a port of its own (a Node worker is ready once it
// listens).
const (
	nodeWhere = `console.log('node WHO=' + process.env.WHO + ' NODE_ENV=' + process.env.NODE_ENV + ' CWD=' + process.cwd());
require('http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1');
`
	pythonWhere = `import os, time
print('python WHO=%s NODE_ENV=%s CWD=%s' % (os.environ.get('WHO'), os.environ.get('NODE_ENV'), os.getcwd()), flush=True)
time.sleep(3600)
`
)

// needNodePython skips a test when node or python3 is missing.
func needNodePython(t *testing.T) {
	t.Helper()
	for _, prog := range []string{"node", "python3"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skip(prog + " is not installed")
		}
	}
}

// writeFiles writes name → content under dir, making directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// programPids are the pids of each program's workers.
func programPids(st *control.Status) map[string][]int {
	out := map[string][]int{}
	for _, p := range st.Programs {
		for _, w := range p.Workers {
			out[p.Name] = append(out[p.Name], w.Pid)
		}
	}
	return out
}

// TestProgramsConfig runs a config of three programs in three languages,
// each with its own environment, working directory and workers: the
// workers say what they see; a reload of one program leaves the others'
// workers alone; a scale of one changes only it.
func TestProgramsConfig(t *testing.T) {
	needNodePython(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web/where.js":  nodeWhere,
		"jobs/where.py": pythonWhere,
		".env":          "# the herd's\nNODE_ENV=production\nWHO=nobody\n",
		"herd.yaml": fmt.Sprintf(`name: shop
env-file: .env
kill-timeout: 20s
programs:
  web:   {command: [node, where.js], workers: 2, cwd: ./web, env: {WHO: web}}
  jobs:  {command: [python3, where.py], workers: 1, cwd: jobs, env: {WHO: jobs}, kill-timeout: 30s}
  clock: {command: [%s], workers: 1, env: {WHO: clock, %s: whereami}}
`, testBinary(t), testutil.EnvHelper),
	})
	h := startHerd(t, nil, "-c", filepath.Join(dir, "herd.yaml"))
	st := h.waitWorkers(4)
	if st.Name != "shop" || len(st.Programs) != 3 || st.Programs[0].Name != "web" || st.Desired != 4 {
		t.Fatalf("status: name %q, programs %+v, desired %d", st.Name, st.Programs, st.Desired)
	}
	for _, want := range []string{
		"] node WHO=web NODE_ENV=production CWD=" + filepath.Join(dir, "web"),
		"] python WHO=jobs NODE_ENV=production CWD=" + filepath.Join(dir, "jobs"),
		"] go WHO=clock NODE_ENV=production CWD=",
		"[web.2:", "[jobs.1:", "[clock.1:",
	} {
		h.stdout.waitFor(t, want)
	}
	before := programPids(st)

	if _, errOut, code := h.herdCtl("reload", "jobs"); code != 0 {
		t.Fatalf("herd reload jobs: exit %d: %s", code, errOut)
	}
	after := programPids(h.waitWorkers(4))
	if fmt.Sprint(after["web"]) != fmt.Sprint(before["web"]) || fmt.Sprint(after["clock"]) != fmt.Sprint(before["clock"]) {
		t.Errorf("reload of jobs changed other programs' workers: %v, then %v", before, after)
	}
	if after["jobs"][0] == before["jobs"][0] {
		t.Errorf("reload of jobs left its worker %d", before["jobs"][0])
	}

	if _, errOut, code := h.herdCtl("scale", "2"); code != 2 || !strings.Contains(errOut, "several programs") {
		t.Errorf("herd scale 2 of a herd of 3 programs: exit %d, %q; want 2 asking which", code, errOut)
	}
	if _, errOut, code := h.herdCtl("scale", "clock", "2"); code != 0 {
		t.Fatalf("herd scale clock 2: exit %d: %s", code, errOut)
	}
	scaled := programPids(h.waitWorkers(5))
	if len(scaled["clock"]) != 2 || fmt.Sprint(scaled["web"]) != fmt.Sprint(before["web"]) {
		t.Errorf("after scale clock 2: %v (before %v)", scaled, before)
	}

	out, _, code := h.herdCtl("status", "web", "--json")
	var web control.Status
	if code != 0 || json.Unmarshal([]byte(out), &web) != nil || len(web.Workers) != 2 || web.Workers[0].Program != "web" {
		t.Errorf("herd status web --json: exit %d:\n%s", code, out)
	}
	if _, errOut, code := h.herdCtl("reload", "nope"); code != 2 || !strings.Contains(errOut, `no program "nope"`) {
		t.Errorf("herd reload nope: exit %d, %q", code, errOut)
	}
	if _, errOut, code := h.herdCtl("stop"); code != 0 {
		t.Fatalf("herd stop: exit %d: %s", code, errOut)
	}
	if code := h.wait(liveness); code != 0 {
		t.Errorf("herd exited %d after stop", code)
	}
}

// TestProgramGivesUp: a program that keeps crashing stops the whole herd
// with exit status 4, and herd names it.
func TestProgramGivesUp(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"herd.yaml": `
programs:
  fine:  {command: [sleep, "600"], workers: 1}
  crash: {command: [sh, -c, "exit 3"], workers: 1, max-restarts: 1}
`})
	h := startHerd(t, nil, "-c", filepath.Join(dir, "herd.yaml"))
	if code := h.wait(liveness); code != 4 {
		t.Fatalf("herd exited %d, want 4 (gave up)", code)
	}
	if !strings.Contains(h.stderr.String(), "program crash: cluster: gave up") {
		t.Errorf("stderr does not name the program that gave up:\n%s", h.stderr)
	}
}

// TestProcfileFormation runs a Procfile as foreman would, with a
// formation: each program's workers get PORT = 5000 + 100 × its index;
// with --log-time each output line starts with its time.
func TestProcfileFormation(t *testing.T) {
	needNodePython(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"p.py": "import os, time\nprint('web PORT=' + os.environ['PORT'], flush=True)\ntime.sleep(3600)\n",
		"Procfile": "# a comment\nweb: python3 p.py\nworker: echo \"worker PORT=$PORT\" && exec sleep 600\n" +
			"unused: sleep 600\n",
	})
	h := startHerdIn(t, dir, nil, "--procfile", "Procfile", "--formation", "web=2,unused=0", "--log-time")
	st := h.waitWorkers(3)
	if len(st.Programs) != 2 || st.Programs[0].Name != "web" || len(st.Programs[0].Workers) != 2 || st.Programs[1].Name != "worker" {
		t.Fatalf("programs: %+v", st.Programs)
	}
	h.stdout.waitFor(t, "] worker PORT=5100")
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) \[web\.[12]:\d+\] web PORT=5000$`)
	h.stdout.waitFor(t, "] web PORT=5000")
	if !line.MatchString(h.stdout.String()) {
		t.Errorf("no timed web line in:\n%s", h.stdout)
	}
	if st.Name != filepath.Base(dir) {
		t.Errorf("herd named %q, want its directory's name %q", st.Name, filepath.Base(dir))
	}
}

// startHerdIn is startHerd run in dir.
func startHerdIn(t *testing.T, dir string, env []string, args ...string) *herdRun {
	t.Helper()
	ctl := controlPath(t)
	return startCmdWith(t, ctl, env, func(c *exec.Cmd) { c.Dir = dir }, append([]string{"run", "--control", ctl}, args...)...)
}

// TestHerdLs runs three herds in one control directory, two of them
// without --name, of different programs: they take their programs'
// names, herd ls lists all three, and a command without --name refuses
// to guess among them but takes the only one left.
func TestHerdLs(t *testing.T) {
	needNodePython(t)
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"alpha.py": pythonWhere, "beta.py": pythonWhere})
	sock := func(name string) string { return filepath.Join(runtime, "herd", name+".sock") }
	start := func(ctl string, args ...string) *herdRun {
		return startCmdWith(t, ctl, nil, func(c *exec.Cmd) { c.Dir = dir }, append([]string{"run", "-n", "1"}, args...)...)
	}
	herds := []*herdRun{
		start(sock("alpha"), "--", "python3", "alpha.py"),
		start(sock("beta"), "--", "python3", "beta.py"),
		start(sock("gamma"), "--name", "gamma", "--", "python3", "alpha.py"),
	}
	for _, h := range herds {
		h.waitWorkers(1)
	}
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock("stale"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close() // a socket file nobody serves, as a killed herd leaves
	out, errOut, code := runHerdCmd(t, nil, "ls", "--json")
	var rows []struct {
		Name       string   `json:"name"`
		Programs   []string `json:"programs"`
		Ready      int      `json:"ready"`
		Desired    int      `json:"desired"`
		Responding bool     `json:"responding"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("herd ls --json: exit %d: %s\n%s", code, errOut, out)
	}
	if got := fmt.Sprint(rows); got != "[{alpha [alpha] 1 1 true} {beta [beta] 1 1 true} {gamma [alpha] 1 1 true} {stale [] 0 0 false}]" {
		t.Errorf("herd ls --json: %s", got)
	}
	if _, errOut, code := runHerdCmd(t, nil, "status"); code != 1 || !strings.Contains(errOut, "alpha, beta, gamma") {
		t.Errorf("herd status among 3 herds: exit %d, %q; want 1 naming them", code, errOut)
	}
	for _, h := range herds[1:] {
		h.cmd.Process.Signal(syscall.SIGTERM)
		h.wait(liveness)
	}
	if out, errOut, code := runHerdCmd(t, nil, "status"); code != 0 || !strings.Contains(out, `herd "alpha"`) {
		t.Errorf("herd status with one herd left: exit %d: %s%s", code, out, errOut)
	}
}

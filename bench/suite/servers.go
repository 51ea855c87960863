package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/sysport"
)

// env is what the harness runs things with.
type env struct {
	herd, hello, restart string // binaries
	nodeDir              string // bench/node, with node_modules
	tmp                  string // private scratch directory
	logs                 string // every server's output
	root                 string // the repository
}

// kind is one way of running the Node app with 2 workers.
type kind struct {
	name  string
	start func(e *env, port int) (*server, error)
}

// server is a running Node app cluster.
type server struct {
	name    string
	port    int
	primary int // herd, Node's primary, or PM2's God daemon
	stop    func()
	reload  func() error // nil: not offered
	upgrade func() error // herd upgrade (primary becomes the new herd); nil: not offered
	pm2     bool
	script  string // a wrk script in nodeDir that shapes the requests (xff.lua), or ""
}

func (s *server) url() string    { return fmt.Sprintf("http://127.0.0.1:%d/", s.port) }
func (s *server) workers() []int { return children(s.primary) }

var nodeKinds = []kind{
	{"herd rr", herdKind("rr")},
	{"herd leastconn", herdKind("leastconn")},
	{"herd shared", herdKind("shared")},
	{"herd reuseport", herdKind("reuseport")},
	{"herd sticky", herdKind("sticky")},                                           // all from 127.0.0.1: one worker
	{"herd sticky xff", herdKind("sticky", "--sticky-header", "X-Forwarded-For")}, // a header per client (xff.lua)
	{"node cluster rr", nodeKind("rr")},
	{"node cluster none", nodeKind("none")},
	{"pm2 -i 2", pm2Start},
}

// baseline is the kind every other one is compared with, round by round.
const baseline = "node cluster rr"

// keepKinds drops the Node kinds not named in the comma-separated list,
// but the baseline; an empty list keeps them all.
func keepKinds(list string) {
	if list == "" {
		return
	}
	keep := map[string]bool{baseline: true}
	for _, k := range strings.Split(list, ",") {
		keep[strings.TrimSpace(k)] = true
	}
	nodeKinds = slices.DeleteFunc(nodeKinds, func(k kind) bool { return !keep[k.name] })
}

func logFile(e *env, name string, port int) (*os.File, error) {
	return os.Create(filepath.Join(e.logs, fmt.Sprintf("%s-%d.log", strings.NewReplacer(" ", "-", "/", "").Replace(name), port)))
}

// startProc starts a server process of the harness, killed with it.
func startProc(e *env, name string, port int, extraEnv []string, dir string, argv ...string) (*exec.Cmd, *os.File, error) {
	lf, err := logFile(e, name, port)
	if err != nil {
		return nil, nil, err
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = dir
	c.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port)}, extraEnv...)...)
	c.Stdout, c.Stderr = lf, lf
	c.SysProcAttr = &syscall.SysProcAttr{}
	sysport.SetPdeathsig(c.SysProcAttr, syscall.SIGKILL)
	if err := c.Start(); err != nil {
		lf.Close()
		return nil, nil, err
	}
	return c, lf, nil
}

// stopProc stops a server process with SIGTERM, and kills what is left.
func stopProc(c *exec.Cmd, lf *os.File) {
	pid := c.Process.Pid
	kids := children(pid)
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		killTree(pid, syscall.SIGKILL)
		<-done
	}
	for _, k := range kids {
		if !waitGone(k, 5*time.Second) {
			syscall.Kill(k, syscall.SIGKILL)
		}
	}
	lf.Close()
}

// herdKind runs the app under herd with policy and extra flags; a
// --sticky-header kind gets requests from xff.lua.
func herdKind(policy string, flags ...string) func(*env, int) (*server, error) {
	return func(e *env, port int) (*server, error) {
		ctl := filepath.Join(e.tmp, fmt.Sprintf("herd-%d.sock", port))
		args := append([]string{e.herd, "run", "-n", "2", "--policy", policy}, flags...)
		c, lf, err := startProc(e, "herd-"+policy, port, nil, e.nodeDir, append(args,
			"--control", ctl, "--restart-window", "1s", "--", "node", "app.js")...)
		if err != nil {
			return nil, err
		}
		s := &server{name: "herd " + policy, port: port, primary: c.Process.Pid}
		if len(flags) > 0 {
			s.script = "xff.lua"
		}
		s.reload = func() error { _, err := herdCtl(e, ctl, "reload"); return err }
		upgraded := false
		s.upgrade = func() error {
			out, err := herdCtl(e, ctl, "upgrade")
			f := strings.Fields(out)
			if err == nil && len(f) > 0 {
				upgraded = true
				s.primary, err = strconv.Atoi(f[len(f)-1])
			}
			return err
		}
		s.stop = func() {
			if upgraded { // the new herd is no child of ours
				herdCtl(e, ctl, "stop")
			}
			stopProc(c, lf)
		}
		return s, nil
	}
}

// herdCtl runs herd's command cmd against the control socket ctl, for
// at most 2 minutes, and returns its output.
func herdCtl(e *env, ctl, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.herd, cmd, "--control", ctl).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("herd %s: %v: %s", cmd, err, out)
	}
	return string(out), nil
}

func nodeKind(policy string) func(*env, int) (*server, error) {
	return func(e *env, port int) (*server, error) {
		c, lf, err := startProc(e, "node-"+policy, port, []string{"NODE_CLUSTER_SCHED_POLICY=" + policy, "WORKERS=2"},
			e.nodeDir, "node", "primary.js")
		if err != nil {
			return nil, err
		}
		return &server{name: "node cluster " + policy, port: port, primary: c.Process.Pid, stop: func() { stopProc(c, lf) }}, nil
	}
}

// pm2Start starts PM2's daemon in a private PM2_HOME with app.js in
// cluster mode, 2 instances.
func pm2Start(e *env, port int) (*server, error) {
	home := filepath.Join(e.tmp, fmt.Sprintf("pm2-%d", port))
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	lf, err := logFile(e, "pm2", port)
	if err != nil {
		return nil, err
	}
	pm2 := filepath.Join(e.nodeDir, "node_modules", ".bin", "pm2")
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, pm2, args...)
		c.Dir = e.nodeDir
		c.Env = append(os.Environ(), "PM2_HOME="+home, "PORT="+strconv.Itoa(port))
		c.Stdout, c.Stderr = lf, lf
		return c.Run()
	}
	s := &server{name: "pm2 -i 2", port: port, pm2: true}
	s.stop = func() {
		god := s.primary
		kids := children(god)
		run("kill")
		if god > 0 && !waitGone(god, 10*time.Second) {
			killTree(god, syscall.SIGKILL)
		}
		for _, k := range kids {
			if !waitGone(k, 5*time.Second) {
				syscall.Kill(k, syscall.SIGKILL)
			}
		}
		lf.Close()
	}
	s.reload = func() error { return run("reload", "app") }
	if err := run("start", "app.js", "-i", "2", "--name", "app"); err != nil {
		s.stop()
		return nil, fmt.Errorf("pm2 start: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(home, "pm2.pid"))
	if err == nil {
		s.primary, err = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("pm2: no daemon pid: %w", err)
	}
	return s, nil
}

// startServer starts a kind on a free port and waits until every worker
// has answered.
func startServer(e *env, k kind) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s, err := k.start(e, port)
	if err != nil {
		return nil, err
	}
	stop := s.stop
	live.Store(s, stop)
	s.stop = func() {
		if _, ok := live.LoadAndDelete(s); ok {
			stop()
		}
	}
	if err := waitServing(s, 2, 60*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// live holds the servers running now, for stopAll.
var live sync.Map // *server → func()

// stopAll stops the servers still running (on SIGINT or SIGTERM: PM2's
// daemon is not the harness's child and would outlive it).
func stopAll() {
	live.Range(func(k, v any) bool {
		if _, ok := live.LoadAndDelete(k); ok {
			v.(func())()
		}
		return true
	})
}

// waitServing waits until n distinct worker pids have answered.
func waitServing(s *server, n int, d time.Duration) error {
	seen := map[int]bool{}
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if pid, err := getPidWith(spreadClient, s.url()); err == nil {
			seen[pid] = true
			if len(seen) >= n && len(s.workers()) >= n {
				return nil
			}
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: %d of %d workers answered within %s", s.name, len(seen), n, d)
}

// spreadClient is probeClient from a new loopback address (127.0.0.2 to
// 127.0.0.254) each connection, so that sticky routing by address sends
// probes to every worker.
var spreadClient = func() *http.Client {
	var n atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+n.Add(1)%253))}
		return (&net.Dialer{LocalAddr: from, Timeout: time.Second}).DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: dial}, Timeout: time.Second}
}()

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// getPid makes one request on a new connection (1 s timeout) and
// returns the pid in the answer ("hello PID").
func getPid(url string) (int, error) { return getPidWith(probeClient, url) }

func pidOf(body string) (int, error) {
	f := strings.Fields(body)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty answer")
	}
	return strconv.Atoi(f[len(f)-1])
}

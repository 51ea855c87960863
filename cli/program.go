package cli

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/sdnotify"
	"github.com/herdhq/herd/proc"
)

// program is one program of a running herd: a cluster supervised on its
// own (its restarts, backoff and give-up), with its own settings,
// environment and working directory.
type program struct {
	h       *herd
	name    string
	opts    runOptions // its settings
	extra   []string   // KEY=VALUE of env files and env, for its workers
	prog    string     // the command's program, resolved, absolute
	listens []listenAddr
	log     *slog.Logger // herd's, with program=NAME when the herd has several
	p       *cluster.Primary
	ready   *readiness
	out     *output
	msgs    *msgLog // logs the workers' messages, rate-limited
	env     []string

	mu       sync.Mutex
	bound    []string     // the addresses bound for --listen
	readyIDs map[int]bool // workers ready so far, until up
	up       bool
	reloads  []chan error // control clients waiting for a reload to end
	multi    bool         // the herd has other programs
}

// newProgram resolves the program of spec; setup makes its cluster once
// herd's sockets are open.
func newProgram(h *herd, spec programSpec, multi bool) (*program, error) {
	pr := &program{h: h, name: spec.name, opts: spec.opts, extra: spec.env, readyIDs: map[int]bool{}, multi: multi}
	pr.listens, _ = parseListens(pr.opts.Listen, pr.opts.Name)
	name := pr.opts.Command[0]
	if pr.opts.Cwd != "" && strings.Contains(name, "/") && !filepath.IsAbs(name) {
		name = filepath.Join(pr.opts.Cwd, name) // as the worker, started there, would find it
	}
	path, err := exec.LookPath(name)
	if err == nil {
		path, err = filepath.Abs(path)
	}
	if err != nil {
		return nil, nameProgram(usagef("cannot run %s: %w", pr.opts.Command[0], err), pr.name, 2)
	}
	pr.prog = path
	return pr, nil
}

// setup makes the program's logger, output, environment and cluster.
func (pr *program) setup() {
	h := pr.h
	pr.log = h.log
	prefix := ""
	if pr.multi {
		pr.log, prefix = h.log.With("program", pr.name), pr.name
	}
	pr.out = newOutput(h.opts.LogFormat == "json", h.stdout, h.stderr)
	pr.out.program, pr.out.timed = prefix, h.opts.LogTime
	pr.msgs = newMsgLog(pr.log, pr.opts.LogMessages)
	removeStaleUnix(pr.listens)
	pr.env = pr.workerEnv()
	cfg := pr.opts.clusterConfig(pr.listens)
	cfg.Command, cfg.OnEvent, cfg.OnMessage = pr.command, pr.onEvent, pr.msgs.message
	if h.heir != nil {
		cfg.Inherited = h.heir.programs[pr.name]
		delete(h.heir.programs, pr.name) // the cluster owns them now
		if f := h.heir.state[pr.name]; f != nil {
			cfg.State.Restore = f // the old herd's store, carried over
		}
	}
	pr.p = cluster.New(cfg)
	pr.ready = newReadiness(func(id int) { pr.p.MarkReady(id) }, pr.startGrace(cfg))
}

// startGrace is how long a worker that says nothing must run to be ready;
// 0 for Node workers, which the cluster marks ready when their server
// listens (or, with no server, when their start has settled).
func (pr *program) startGrace(cfg cluster.Config) time.Duration {
	if cfg.Node {
		return 0
	}
	return min(startGrace, pr.opts.ReadyTimeout/2)
}

// workerEnv is herd's environment with socket activation, NOTIFY_SOCKET
// and the program's own variables set for its workers (LISTEN_PID is the
// shim's).
func (pr *program) workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case sdnotify.EnvSocket, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, pr.extra...)
	if p := pr.h.notify.Path(); p != "" { // "": no socket (not Linux)
		env = append(env, sdnotify.EnvSocket+"="+p)
	}
	if pr.opts.State != "" {
		env = append(env, envStateURL+"="+pr.opts.State)
	}
	if n := len(pr.listens); n > 0 {
		names := make([]string, n)
		for i, l := range pr.listens {
			names[i] = l.name
		}
		env = append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return env
}

// command is the cluster's Config.Command: the program behind the shim,
// in its working directory, with the --listen sockets as fds 3, 4, ...
func (pr *program) command(id int) *proc.Cmd {
	c := proc.Command(pr.h.exe, append([]string{argExec, pr.prog}, pr.opts.Command...)...)
	c.Env = slices.Clone(pr.env)
	c.Dir = pr.opts.Cwd
	c.ExtraFiles = pr.p.ListenFiles()
	c.Stdout, c.Stderr = pr.out.open(id)
	if pr.h.keeper != nil {
		pr.h.keeper.prepare(c, pr.h.keys.add(pr.name, id))
	}
	return c
}

// run runs the program's cluster until it stops.
func (pr *program) run(ctx context.Context) error {
	o := &pr.opts
	pr.log.Info("start", "name", pr.h.opts.Name, "command", strings.Join(o.Command, " "), "workers", o.Workers,
		"policy", o.Policy, "control", pr.h.ctl.Path(), "pid", os.Getpid())
	return pr.p.Run(ctx)
}

// boundAddrs returns the addresses bound for --listen.
func (pr *program) boundAddrs() []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append([]string(nil), pr.bound...)
}

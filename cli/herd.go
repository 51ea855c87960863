package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/sdnotify"
	"github.com/herdhq/herd/proc"
)

// herd is one herd run: the cluster, and what the command adds around
// it (the exec shim, socket activation, NOTIFY_SOCKET, output prefixes,
// the control socket).
type herd struct {
	opts    runOptions
	listens []listenAddr
	log     *slog.Logger
	out     *output
	msgs    *msgLog // logs the workers' messages, rate-limited
	ready   *readiness
	p       *cluster.Primary
	ctl     *control.Server
	notify  *sdnotify.Listener
	exe     string   // herd's own executable: the exec shim
	prog    string   // the command's program, resolved
	env     []string // the workers' environment (the cluster adds its own)
	started time.Time
	onUp    func(h *herd) // called once, when the first workers are all ready

	mu       sync.Mutex
	bound    []string     // the addresses bound for --listen
	readyIDs map[int]bool // workers ready so far, until up
	up       bool
	reloads  []chan error // control clients waiting for a reload to end

	wd     watchdog // kills the workers' children if herd is killed (watchdog.go)
	keeper keeper   // kills what a worker started when it exits; nil for none (watchdog_keeper.go)

	opsRuntime // the log file and the metrics server (ops.go)
}

// runHerd runs a herd with o in the foreground until it stops.
func runHerd(ctx context.Context, o runOptions, stdout, stderr io.Writer, onUp func(*herd)) error {
	if err := o.validate(); err != nil {
		return err
	}
	closeInheritedOnExec()
	tunePrimaryRuntime()
	h, err := newHerd(o, &syncWriter{w: stdout}, &syncWriter{w: stderr})
	if err != nil {
		return err
	}
	h.onUp = onUp
	return h.run(ctx)
}

// newHerd resolves the program and binds the control and notify sockets.
func newHerd(o runOptions, stdout, stderr io.Writer) (*herd, error) {
	h := &herd{opts: o, started: time.Now(), readyIDs: map[int]bool{}}
	var err error
	h.listens, _ = parseListens(o.Listen, o.Name)
	if h.prog, err = exec.LookPath(o.Command[0]); err != nil {
		return nil, usagef("cannot run %s: %w", o.Command[0], err)
	}
	if h.exe, err = os.Executable(); err != nil {
		return nil, withCode(ExitError, fmt.Errorf("cannot find herd's own executable: %w", err))
	}
	if stdout, stderr, err = h.openLog(stdout, stderr); err != nil {
		return nil, err
	}
	h.log = newLogger(o.LogFormat, stderr)
	h.out = newOutput(o.LogFormat == "json", stdout, stderr)
	h.msgs = newMsgLog(h.log, o.LogMessages)
	if err := h.openSockets(); err != nil {
		h.closeOpened()
		return nil, err
	}
	removeStaleUnix(h.listens)
	h.env = h.workerEnv()
	cfg := o.clusterConfig(h.listens)
	cfg.Command, cfg.OnEvent, cfg.OnMessage = h.command, h.onEvent, h.onMessage
	h.p = cluster.New(cfg)
	h.ready = newReadiness(func(id int) { h.p.MarkReady(id) }, h.startGrace(cfg))
	err = h.startKeeper()
	if err == nil {
		err = h.listenMetrics()
	}
	if err != nil {
		h.stopWatchdog()
		h.ctl.Close()
		h.notify.Close()
		h.closeOpened()
		return nil, err
	}
	return h, nil
}

// startGrace is how long a worker that says nothing must run to be ready;
// 0 for Node workers, which the cluster marks ready when their server
// listens (or, with no server, when their start has settled).
func (h *herd) startGrace(cfg cluster.Config) time.Duration {
	if cfg.Node {
		return 0
	}
	return min(startGrace, h.opts.ReadyTimeout/2)
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// openSockets creates the control socket and, beside it, NOTIFY_SOCKET.
func (h *herd) openSockets() error {
	path, err := h.opts.controlPath()
	if err != nil {
		return err
	}
	if h.ctl, err = control.Listen(path); err != nil {
		return withCode(ExitBind, err)
	}
	h.ctl.Logger = h.log
	h.notify, err = sdnotify.Listen(strings.TrimSuffix(path, ".sock") + ".notify")
	if err != nil {
		h.ctl.Close()
		return withCode(ExitBind, err)
	}
	return nil
}

// workerEnv is herd's environment with socket activation and
// NOTIFY_SOCKET set for the workers (LISTEN_PID is the shim's).
func (h *herd) workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case sdnotify.EnvSocket, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES":
		default:
			env = append(env, kv)
		}
	}
	if p := h.notify.Path(); p != "" { // "": no socket (not Linux)
		env = append(env, sdnotify.EnvSocket+"="+p)
	}
	if h.opts.State != "" {
		env = append(env, envStateURL+"="+h.opts.State)
	}
	if n := len(h.listens); n > 0 {
		names := make([]string, n)
		for i, l := range h.listens {
			names[i] = l.name
		}
		env = append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	return env
}

// command is the cluster's Config.Command: the program behind the shim,
// with the --listen sockets as fds 3, 4, ...
func (h *herd) command(id int) *proc.Cmd {
	c := proc.Command(h.exe, append([]string{argExec, h.prog}, h.opts.Command...)...)
	c.Env = slices.Clone(h.env)
	c.ExtraFiles = h.p.ListenFiles()
	c.Stdout, c.Stderr = h.out.open(id)
	if h.keeper != nil {
		h.keeper.prepare(c, id)
	}
	return c
}

// run runs the cluster and cleans up after it.
func (h *herd) run(ctx context.Context) error {
	defer h.stopWatchdog() // after the cluster: its workers are all gone
	notified := make(chan struct{})
	go h.ctl.Serve(h)
	go h.receiveNotify(notified)
	h.log.Info("start", "name", h.opts.Name, "command", strings.Join(h.opts.Command, " "), "workers", h.opts.Workers,
		"policy", h.opts.Policy, "control", h.ctl.Path(), "pid", os.Getpid())
	h.startOps()
	err := h.p.Run(ctx)
	h.ready.close()
	h.ctl.Close()
	h.notify.Close()
	<-notified
	h.out.close()
	err = h.exitError(err)
	h.stopOps()
	return err
}

// exitError maps the cluster's end to herd's exit status.
func (h *herd) exitError(err error) error {
	switch {
	case err == nil:
		h.log.Info("stopped")
		return nil
	case errors.Is(err, cluster.ErrListen):
		return withCode(ExitBind, listenError(err))
	case errors.Is(err, cluster.ErrGaveUp):
		return withCode(ExitGaveUp, err)
	case errors.Is(err, cluster.ErrForced):
		return withCode(ExitForced, err)
	}
	return withCode(ExitError, err)
}

// listenError says which address could not be bound, and why, without
// repeating it.
func listenError(err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Addr == nil {
		return err
	}
	err = fmt.Errorf("cannot listen on %s %s: %w", oe.Net, oe.Addr, oe.Err)
	if errors.Is(err, syscall.EADDRINUSE) {
		err = fmt.Errorf("%w (another process holds it; ss -ltnp tells which)", err)
	}
	return err
}

// receiveNotify hands NOTIFY_SOCKET messages to the readiness logic.
func (h *herd) receiveNotify(done chan<- struct{}) {
	defer close(done)
	for {
		m, err := h.notify.Receive()
		if err != nil {
			return
		}
		h.ready.notified(m)
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/sdnotify"
)

// herd is one herd run: its programs (each a cluster of its own), and
// what the command adds around them (the exec shim, socket activation,
// NOTIFY_SOCKET, output prefixes, the control socket, the log, metrics).
type herd struct {
	opts           runOptions // the settings of the whole herd
	progs          []*program // in the order given
	log            *slog.Logger
	stdout, stderr io.Writer // worker output and herd's log (or the log file)
	ctl            *control.Server
	notify         *sdnotify.Listener
	exe            string // herd's own executable: the exec shim
	started        time.Time
	onUp           func(h *herd) // called once, when every program's first workers are ready

	mu sync.Mutex
	up int // programs whose first workers are all ready

	wd     watchdog   // kills the workers' children if herd is killed (watchdog.go)
	keeper keeper     // kills what a worker started when it exits; nil for none (watchdog_keeper.go)
	keys   workerKeys // the keeper's ids of the programs' workers

	opsRuntime   // the log file and the metrics server (ops.go)
	watchRuntime // --watch (watch_herd.go)
}

// runHerd runs a herd of specs, with the herd-wide settings o, in the
// foreground until it stops.
func runHerd(ctx context.Context, o runOptions, specs []programSpec, stdout, stderr io.Writer, onUp func(*herd)) error {
	if err := validatePrograms(&o, specs); err != nil {
		return err
	}
	closeInheritedOnExec()
	tunePrimaryRuntime()
	h, err := newHerd(o, specs, &syncWriter{w: stdout}, &syncWriter{w: stderr})
	if err != nil {
		return err
	}
	h.onUp = onUp
	return h.run(ctx)
}

// validatePrograms checks the herd's settings and each program's.
func validatePrograms(o *runOptions, specs []programSpec) error {
	if err := o.validateHerd(); err != nil {
		return err
	}
	named := len(specs) // programs of a config or Procfile are named in errors
	if o.programs != nil || o.Procfile != "" {
		named = 2
	}
	for i := range specs {
		s := &specs[i]
		s.opts.Name = o.Name
		if len(specs) > 1 {
			s.opts.Name = s.name // LISTEN_FDNAMES's default
		}
		if err := s.opts.validateProgram(); err != nil {
			return nameProgram(err, s.name, named)
		}
	}
	return nil
}

// nameProgram prefixes err with the program's name when the herd has
// several.
func nameProgram(err error, name string, programs int) error {
	if programs < 2 || err == nil {
		return err
	}
	return withCode(codeOf(err), fmt.Errorf("program %s: %w", name, err))
}

// newHerd resolves the programs and binds the control and notify sockets.
func newHerd(o runOptions, specs []programSpec, stdout, stderr io.Writer) (*herd, error) {
	h := &herd{opts: o, started: time.Now()}
	for _, s := range specs {
		pr, err := newProgram(h, s, len(specs) > 1)
		if err != nil {
			return nil, err
		}
		h.progs = append(h.progs, pr)
	}
	var err error
	if h.exe, err = os.Executable(); err != nil {
		return nil, withCode(ExitError, fmt.Errorf("cannot find herd's own executable: %w", err))
	}
	if h.stdout, h.stderr, err = h.openLog(stdout, stderr); err != nil {
		return nil, err
	}
	h.log = newLogger(o.LogFormat, h.stderr)
	if err := h.openSockets(); err != nil {
		h.closeOpened()
		return nil, err
	}
	for _, pr := range h.progs {
		pr.setup()
	}
	err = h.startKeeper()
	if err == nil {
		err = h.listenMetrics()
	}
	if err == nil {
		err = h.openWatch()
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

// run runs the programs and cleans up after them.
func (h *herd) run(ctx context.Context) error {
	defer h.stopWatchdog() // after the clusters: their workers are all gone
	notified := make(chan struct{})
	go h.ctl.Serve(h)
	go h.receiveNotify(notified)
	h.startOps()
	h.startWatch()
	err := h.runPrograms(ctx)
	h.stopWatch()
	for _, pr := range h.progs {
		pr.ready.close()
	}
	h.ctl.Close()
	h.notify.Close()
	<-notified
	for _, pr := range h.progs {
		pr.out.close()
	}
	err = h.exitError(err)
	h.stopOps()
	return err
}

// runPrograms runs every program until all have stopped; the first to
// fail (give up, say) stops the others, and its error is herd's.
func (h *herd) runPrograms(ctx context.Context) error {
	errs := make(chan error, len(h.progs))
	for _, pr := range h.progs {
		go func() { errs <- nameProgram(pr.run(ctx), pr.name, len(h.progs)) }()
	}
	var first error
	for range h.progs {
		if err := <-errs; err != nil && first == nil {
			first = err
			h.stopAll()
		}
	}
	return first
}

// stopAll starts a graceful stop of every program.
func (h *herd) stopAll() {
	for _, pr := range h.progs {
		pr.p.Stop()
	}
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
		h.notified(m)
	}
}

// notified hands a NOTIFY_SOCKET message to the program whose worker
// sent it; one from a process not known yet, to each (the one that forks
// it will know it).
func (h *herd) notified(m sdnotify.Message) {
	for _, pr := range h.progs {
		if pr.ready.owns(m.Pid) {
			pr.ready.notified(m)
			return
		}
	}
	for _, pr := range h.progs {
		pr.ready.notified(m)
	}
}

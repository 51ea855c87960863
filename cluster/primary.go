package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/statebroker"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// ErrGaveUp is returned by Run when workers crashed more than MaxRestarts
// times within RestartWindow. It is wrapped with the last crash.
var ErrGaveUp = errors.New("cluster: gave up: too many restarts")

// ErrForced is returned by Run when a second SIGTERM or SIGINT came while
// it was stopping, and the workers still running were killed (SIGKILL)
// rather than left to drain.
var ErrForced = errors.New("cluster: stopped by force: a second stop signal killed the workers")

// ErrStopped is returned by control calls on a primary that has stopped.
var ErrStopped = errors.New("cluster: primary stopped")

// Primary runs and supervises the workers. Its methods are safe for
// concurrent use; all state is owned by the goroutine inside Run.
type Primary struct {
	cfg   Config
	inbox chan any
	done  chan struct{}

	// Owned by Run's goroutine.
	members  map[int]*member
	slots    map[int]*slot
	sockets  map[string]*socket
	nextID   int
	gen      int
	want     int
	window   []time.Time // times of recent unexpected restarts
	stopping bool
	stopErr  error
	reload   bool
	forks    forkQueue // slots waiting for their first fork (forks.go)

	reloadSeq   int         // the reload's step, for reloadDue (reload.go)
	reloadTimer *time.Timer // the step's deadline

	listenFiles []*os.File          // Config.Listen's sockets, for ListenFiles
	inherited   map[string]*os.File // Config.Inherited's sockets no listen took yet (inherit.go)
	preload     nodePreload         // the Node workers' preload file

	primaryNoticed bool // the notice of node_start.go was given

	state *statebroker.Broker // the embedded store (state.go); nil when disabled
	relay *relay              // messages between Node workers (relay.go)

	totals Totals // counters, exited workers included (stats.go)
}

// slot is one of the Workers places; its worker changes over restarts.
type slot struct {
	current  *member
	restarts int
	backoff  time.Duration
	queued   bool            // waiting in the fork queue for its first worker
	holds    map[string]bool // sockets its crashed worker held, until the next is ready (holds.go)
}

// The messages of the primary's loop.
type (
	internalMsg struct {
		m   *member
		msg *ipc.Message
	}
	memberEvent struct {
		m  *member
		ev proc.Event
	}
	restartDue   struct{ slot int }
	readyTimeout struct{ m *member }
	killDue      struct{ m *member }
	control      struct {
		f    func()
		done chan struct{}
	}
)

// New returns a primary for cfg; Run starts it.
func New(cfg Config) *Primary {
	cfg = cfg.withDefaults()
	return &Primary{
		relay:     newRelay(func(s string) { cfg.Logger.Warn("cluster: " + s) }, cfg.MaxQueue),
		cfg:       cfg,
		inbox:     make(chan any, 256),
		done:      make(chan struct{}),
		members:   map[int]*member{},
		slots:     map[int]*slot{},
		sockets:   map[string]*socket{},
		want:      cfg.Workers,
		forks:     newForkQueue(),
		inherited: maps.Clone(cfg.Inherited),
	}
}

// Run is New(cfg).Run(ctx).
func Run(ctx context.Context, cfg Config) error { return New(cfg).Run(ctx) }

// Run forks the workers and supervises them until ctx is done, a stop
// signal arrives or Stop is called (then it stops them gracefully and
// returns nil; ErrForced if a second stop signal killed them), or until
// it gives up (ErrGaveUp, wrapped with the cause).
// It may be called once.
func (p *Primary) Run(ctx context.Context) error {
	defer close(p.done)
	defer p.closeInherited()
	if err := p.cfg.checkWorkers(p.want); err != nil {
		return err
	}
	p.checkReusePort()
	if err := p.bindListen(); err != nil {
		return err
	}
	defer p.closeListenFiles()
	defer p.preload.remove()
	p.state = p.openState()
	defer p.state.Close()
	sigs := p.signals()
	defer signal.Stop(sigs)
	defer p.startMonitor()()
	for s := 1; s <= p.want; s++ {
		p.addSlot(s)
	}
	ctxDone := ctx.Done()
	for !p.finished() {
		select {
		case <-ctxDone:
			ctxDone = nil
			p.stop()
		case sig := <-sigs:
			p.signal(sig.(syscall.Signal))
		case m := <-p.inbox:
			p.handle(m)
		case <-p.forks.ready():
			p.startQueued()
		}
	}
	p.closeSockets()
	return p.stopErr
}

func (p *Primary) signals() chan os.Signal {
	sigs := make(chan os.Signal, 4)
	if !p.cfg.NoSignals {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU)
	}
	return sigs
}

func (p *Primary) signal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT:
		if p.stopping {
			p.forceStop() // a second stop signal: no more waiting
		}
		p.stop()
	case syscall.SIGHUP:
		p.startReload()
	case syscall.SIGTTIN:
		if err := p.cfg.checkWorkers(p.want + 1); err != nil {
			p.emit(Event{Type: EventError, Err: err})
			return
		}
		p.scale(p.want + 1)
	case syscall.SIGTTOU:
		p.scale(p.want - 1)
	}
}

func (p *Primary) finished() bool { return p.stopping && len(p.members) == 0 }

// post delivers a message to the loop, unless Run has returned.
func (p *Primary) post(m any) {
	select {
	case p.inbox <- m:
	case <-p.done:
		if im, ok := m.(internalMsg); ok {
			im.msg.CloseHandle()
		}
	}
}

// after posts m to the loop once d has passed.
func (p *Primary) after(d time.Duration, m any) *time.Timer {
	return time.AfterFunc(d, func() { p.post(m) })
}

func (p *Primary) handle(v any) {
	switch v := v.(type) {
	case internalMsg:
		p.internal(v.m, v.msg)
	case memberEvent:
		p.memberEvent(v.m, v.ev)
	case restartDue:
		p.restartDue(v.slot)
	case readyTimeout:
		p.readyTimeout(v.m)
	case killDue:
		p.killDue(v.m)
	case reloadDue:
		p.reloadDeadline(v.seq)
	case control:
		v.f()
		close(v.done)
	}
}

// emit reports an event to the logger and to OnEvent.
func (p *Primary) emit(e Event) {
	e.Time = time.Now()
	p.count(e)
	if e.Type == EventError || e.Type == EventGiveUp {
		p.cfg.Logger.Error(e.String())
	} else {
		p.cfg.Logger.Info(e.String())
	}
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(e)
	}
}

func (p *Primary) memberEvt(t EventType, m *member) Event {
	return Event{Type: t, WorkerID: m.id, Pid: m.cmd.Pid()}
}

// do runs f on the loop and waits for it.
func (p *Primary) do(f func()) error {
	c := control{f: f, done: make(chan struct{})}
	select {
	case p.inbox <- c:
	case <-p.done:
		return ErrStopped
	}
	select {
	case <-c.done:
		return nil
	case <-p.done:
		return ErrStopped
	}
}

// Workers describes the live workers, by id.
func (p *Primary) Workers() ([]WorkerInfo, error) {
	var out []WorkerInfo
	err := p.do(func() {
		for _, m := range p.members {
			out = append(out, m.info(p.slots[m.slot].restartsOrZero()))
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

func (s *slot) restartsOrZero() int {
	if s == nil {
		return 0
	}
	return s.restarts
}

// Reload replaces every worker, one at a time: the new one starts, and the
// old one drains once the new one is ready. It returns once started; an
// EventReload then says "done", or the reload failed (Err: why) within
// ReadyTimeout + KillTimeout per worker (reload.go).
func (p *Primary) Reload() error { return p.do(p.startReload) }

// Scale sets the number of workers: at least 1, at most MaxWorkers
// (else ErrTooManyWorkers). The new workers are forked a few at a time
// (forkBatch per turn of the primary's loop), which goes on serving.
func (p *Primary) Scale(n int) error {
	if n < 1 {
		return fmt.Errorf("cluster: cannot scale to %d workers", n)
	}
	if err := p.cfg.checkWorkers(n); err != nil {
		return err
	}
	return p.do(func() { p.scale(n) })
}

// Stop starts a graceful stop; Run returns when every worker has exited.
func (p *Primary) Stop() error { return p.do(p.stop) }

// Send sends v to the worker id. It never waits for the worker: when more
// than Config.MaxQueue bytes wait for it, Send fails with an error
// wrapping ipc.ErrQueueFull and the worker is cut off.
func (p *Primary) Send(id int, v any) error {
	var m *member
	if err := p.do(func() { m = p.members[id] }); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("cluster: no worker %d", id)
	}
	m.counts.userOut.Add(1)
	return m.cmd.Channel().Send(v)
}

// Done is closed when Run has returned.
func (p *Primary) Done() <-chan struct{} { return p.done }

func (p *Primary) closeSockets() {
	for _, s := range p.sockets {
		s.close()
	}
}

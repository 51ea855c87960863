package cluster

import (
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// State is where a worker is in its life.
type State string

// The states of a worker.
const (
	StateStarting State = "starting" // forked, not ready yet
	StateReady    State = "ready"    // serving
	StateDraining State = "draining" // asked to stop: finishing its connections
	StateExited   State = "exited"
)

// WorkerInfo describes one worker.
type WorkerInfo struct {
	ID       int       `json:"id"`
	Slot     int       `json:"slot"`
	Pid      int       `json:"pid"`
	State    State     `json:"state"`
	Restarts int       `json:"restarts"` // restarts of this worker's slot so far
	Started  time.Time `json:"started"`
	Conns    int64     `json:"conns"` // connections handed out and not yet reported closed (rr, leastconn)
	Handed   int64     `json:"handed"`
}

// member is the primary's record of one worker process. The primary's
// loop owns every field but the atomics, which the dispatchers touch.
type member struct {
	id, slot, gen int
	cmd           *proc.Cmd
	state         State
	started       time.Time
	replaces      *member         // during a reload: the worker this one replaces
	expected      bool            // the primary asked it to stop
	notReady      bool            // killed for not being ready within ReadyTimeout
	speaker       speaker         // nil until the worker speaks a protocol
	node          *nodeWorker     // set for a Node cluster worker (nodeCommand)
	keys          map[string]bool // sockets it listens on
	holds         map[string]bool // sockets it was given and holds open (holds.go)
	refusedSock   bool            // it asked for more than MaxWorkerSockets (logged once)
	killTimer     *time.Timer
	readyTimer    *time.Timer
	startErr      error // a listen that failed before it was ready (listen_fail.go)

	handed atomic.Int64 // connections it acknowledged
	closed atomic.Int64 // connections it reported closed

	counts     memberCounts // messages (stats.go)
	health     memberHealth // loop-owned: heartbeats, memory (health.go)
	listenErrs int          // listen errors returned to it (listen_fail.go)
}

func (m *member) info(restarts int) WorkerInfo {
	return WorkerInfo{ID: m.id, Slot: m.slot, Pid: m.cmd.Pid(), State: m.state, Restarts: restarts,
		Started: m.started, Conns: m.load(), Handed: m.handed.Load()}
}

func (m *member) load() int64 {
	if m.node != nil {
		return m.node.load()
	}
	return m.handed.Load() - m.closed.Load()
}

// speaker is the protocol a worker speaks on its channel: herd's own (the
// Go library) or Node's cluster protocol. A worker that speaks none gets
// no round-robin traffic and is stopped with SIGTERM.
type speaker interface {
	// handOff gives the worker a connection; see router. It counts in
	// m.handed each connection the worker took, before d.handedOff.
	handOff(m *member, fd int, d *dispatcher)
	// disconnect asks the worker to stop accepting, drain and exit.
	disconnect(m *member)
}

// handOff routes through the worker's protocol.
func (m *member) handOff(fd int, d *dispatcher) {
	if m.speaker == nil {
		d.handedOff(fd, m, false)
		return
	}
	m.speaker.handOff(m, fd, d)
}

// handleWindow is how many connections may be on their way to one herd
// worker before it acknowledges the first.
const handleWindow = 16

// herdSpeaker is herd's own protocol.
type herdSpeaker struct{}

// handOff sends a connection over the channel; the worker's channel
// acknowledging the handle means the worker has it. The dispatcher keeps
// fd open until d.handedOff, so the channel may send it without a
// duplicate.
func (herdSpeaker) handOff(m *member, fd int, d *dispatcher) {
	m.cmd.Channel().LendHandle(herdConnLine(d.key), ipc.Handle{Type: ipc.TypeNative, FD: fd}, func(err error) {
		if err == nil {
			m.handed.Add(1)
		}
		d.handedOff(fd, m, err == nil)
	})
}

// herdConnLine is the conn message for a socket key, pre-encoded.
func herdConnLine(key string) json.RawMessage {
	k, _ := json.Marshal(key)
	b := make([]byte, 0, len(k)+48)
	b = append(b, `{"cmd":"`+cmdHerd+`","act":"`+actConn+`","key":`...)
	return append(append(b, k...), '}')
}

func (herdSpeaker) disconnect(m *member) { m.send(newMsg(actDisconnect)) }

// spawn starts the worker process.
func (p *Primary) spawn(slot, gen int) (*member, error) {
	p.nextID++
	m := &member{id: p.nextID, slot: slot, gen: gen, state: StateStarting, keys: map[string]bool{}}
	m.cmd = p.command(m)
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	m.started = time.Now()
	go p.watchMember(m)
	return m, nil
}

// command builds the worker's command with the cluster's settings.
func (p *Primary) command(m *member) *proc.Cmd {
	id := m.id
	var c *proc.Cmd
	if p.cfg.Command != nil {
		c = p.cfg.Command(id)
	} else {
		c = selfCommand()
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
	c.Env = append(c.Env, EnvWorkerID+"="+strconv.Itoa(id), EnvKillTimeout+"="+p.cfg.KillTimeout.String(),
		EnvIdleGrace+"="+strconv.FormatInt(max(p.cfg.IdleGrace, 0).Milliseconds(), 10))
	c.Setpgid = true
	c.Pdeathsig = syscall.SIGKILL
	c.Env = p.healthEnv(c.Env)
	c.Env = procsEnv(c.Env, p.cfg.WorkerProcs, p.want)
	// Bounded sends: the loop never waits on a worker that does not read.
	c.ChannelOptions = &ipc.Options{Internal: p.internalFunc(m), MaxMessageSize: p.cfg.MaxMessage, MaxQueue: p.cfg.MaxQueue}
	p.nodeCommand(m, c)
	countInternal(m, c.ChannelOptions)
	return c
}

// procsEnv adds GOMAXPROCS to env as Config.WorkerProcs says, for one
// of workers workers.
func procsEnv(env []string, procs, workers int) []string {
	if procs < 0 || slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }) {
		return env
	}
	if procs == 0 {
		procs = max(1, runtime.NumCPU()/max(workers, 1))
	}
	return append(env, "GOMAXPROCS="+strconv.Itoa(procs))
}

func selfCommand() *proc.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	c := proc.Command(exe, os.Args[1:]...)
	c.Args[0] = os.Args[0]
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	return c
}

// watchMember forwards the worker's messages and its end to the loop.
func (p *Primary) watchMember(m *member) {
	go p.forwardMessages(m)
	for ev := range m.cmd.Events() {
		p.post(memberEvent{m: m, ev: ev})
	}
}

func (p *Primary) forwardMessages(m *member) {
	for msg := range m.cmd.Channel().Messages() {
		m.counts.userIn.Add(1)
		if m.node != nil && p.relay.take(m, msg) {
			continue
		}
		if p.cfg.OnMessage == nil {
			msg.CloseHandle()
			continue
		}
		p.cfg.OnMessage(WorkerInfo{ID: m.id, Slot: m.slot, Pid: m.cmd.Pid()}, msg)
	}
}

// send is a best-effort message to the worker; it never waits. A closed
// channel is no error, nor a full queue (Config.MaxQueue: the channel
// closes, and the worker is cut off as for bad input).
func (m *member) send(v any) error {
	m.counts.internalOut.Add(1)
	err := m.cmd.Channel().Send(v)
	if errors.Is(err, ipc.ErrClosed) || errors.Is(err, ipc.ErrQueueFull) {
		return nil
	}
	return err
}

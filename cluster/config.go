package cluster

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// Policy is how connections are spread over the workers.
type Policy int

// The scheduling policies. UDP sockets are always shared.
const (
	// RoundRobin: the primary accepts each connection and hands it to the
	// next ready worker, skipping workers that are draining or gone.
	RoundRobin Policy = iota
	// Shared: every worker accepts on the same socket; the kernel picks.
	Shared
	// ReusePort: each worker accepts on a socket of its own, bound by the
	// primary in one SO_REUSEPORT group; the kernel spreads by hash.
	ReusePort
	// LeastConn: as RoundRobin, to the worker with the fewest open
	// connections.
	LeastConn
	// Sticky: as RoundRobin, to the worker of the slot that a hash of the
	// client's identity picks (Config.StickyHeader, Config.ProxyProtocol;
	// by default its address), so that a client's connections reach the
	// same worker, and its slot's successor after a reload (sticky.go).
	Sticky
)

var policyNames = []string{"rr", "shared", "reuseport", "leastconn", "sticky"}

// String returns the policy's short name: rr, shared, reuseport,
// leastconn, sticky.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// ParsePolicy parses a short name as printed by String ("roundrobin" and
// "round-robin" are accepted for rr).
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(s) {
	case "rr", "roundrobin", "round-robin", "":
		return RoundRobin, nil
	case "shared", "none":
		return Shared, nil
	case "reuseport":
		return ReusePort, nil
	case "leastconn", "least-conn":
		return LeastConn, nil
	case "sticky":
		return Sticky, nil
	}
	return 0, fmt.Errorf("cluster: unknown policy %q (want rr, shared, reuseport, leastconn or sticky)", s)
}

// Defaults used for zero Config fields.
const (
	DefaultMaxRestarts   = 10
	DefaultRestartWindow = 60 * time.Second
	DefaultBackoffMin    = 100 * time.Millisecond
	DefaultBackoffMax    = 5 * time.Second
	DefaultKillTimeout   = 10 * time.Second
	DefaultReadyTimeout  = 30 * time.Second
	DefaultIdleGrace     = time.Second
	DefaultMaxMessage    = 1 << 20  // the longest message a worker may send: 1 MiB
	DefaultMaxQueue      = 16 << 20 // the bytes that may wait to be written to one worker: 16 MiB
	// DefaultIdentifyTimeout is Config.IdentifyTimeout's default.
	DefaultIdentifyTimeout = time.Second
)

// Config says how to run a cluster. The zero value runs one worker per CPU
// of this same program, round-robin, with the defaults above.
type Config struct {
	// Workers is how many workers to run; 0 means runtime.NumCPU() (at
	// most MaxWorkers). More than MaxWorkers makes Run fail with
	// ErrTooManyWorkers.
	Workers int
	// MaxWorkers bounds Workers and Scale: asking for more is an error
	// (ErrTooManyWorkers), never a fork the machine cannot hold. 0 means
	// DefaultMaxWorkers(), derived from this process's limits.
	MaxWorkers int
	// Policy is how connections are spread; the zero value is RoundRobin.
	Policy Policy
	// StickyHeader, under Sticky, names the HTTP request header whose
	// value identifies a client (X-Forwarded-For, X-Real-IP: behind a
	// proxy every connection comes from the proxy's address). The primary
	// reads it from the connection's first request with MSG_PEEK, leaving
	// the request for the worker, within the first identifyMaxBytes bytes
	// and IdentifyTimeout; without it, or past either bound, the client's
	// address identifies it. Empty: the address.
	StickyHeader string
	// ProxyProtocol makes the primary read and strip a PROXY protocol
	// header (v1 or v2, as HAProxy, nginx and cloud load balancers send)
	// from every round-robin, least-connections or sticky connection
	// before a worker gets it; under Sticky its source address is the
	// client's. A connection without a valid header within
	// IdentifyTimeout is closed.
	ProxyProtocol bool
	// IdentifyTimeout bounds how long the primary waits for a connection's
	// first bytes when StickyHeader or ProxyProtocol needs them; 0 means
	// DefaultIdentifyTimeout.
	IdentifyTimeout time.Duration
	// Listen lists addresses Run binds before it forks any worker (a
	// failure is ErrListen), registered as a worker's Listen of the same
	// network and address would: workers that speak herd's protocol share
	// them by Policy (ReusePort as Shared), and Command may pass them to
	// other workers with ListenFiles.
	Listen []Addr
	// MaxRestarts is how many unexpected restarts RestartWindow may hold
	// before the cluster gives up; 0 means DefaultMaxRestarts, a negative
	// value never gives up.
	MaxRestarts int
	// RestartWindow is the sliding window for MaxRestarts; 0 means
	// DefaultRestartWindow.
	RestartWindow time.Duration
	// BackoffMin and BackoffMax bound the delay before a crashed worker is
	// replaced: the first restart of a slot is immediate, the next ones
	// wait BackoffMin, doubling up to BackoffMax. A worker that stayed up
	// for RestartWindow resets its slot's backoff. Zero means the defaults.
	BackoffMin, BackoffMax time.Duration
	// KillTimeout is how long a stopping worker may drain before it and
	// its process group are sent SIGKILL; 0 means DefaultKillTimeout.
	KillTimeout time.Duration
	// ReadyTimeout bounds how long a new worker may take to become ready;
	// one that is not ready in time is killed and counts as a crash. 0
	// means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Readiness says when a worker counts as ready; the zero value is
	// ReadyOnListen.
	Readiness Readiness
	// Node starts every worker as a Node.js cluster worker and speaks
	// Node's cluster protocol with it, for commands that run node through
	// something else (npm start, a shell script). Without it, a worker is a
	// Node worker when its program is node or nodejs (IsNodeProgram).
	Node bool
	// IdleGrace is how long a draining worker (a reload, a stop, a
	// scale-down, Leave) keeps a keep-alive connection that sends no
	// request open. From the disconnect on, every answer says "Connection:
	// close" (the client reconnects, to a worker that stays), so only
	// connections idle for the whole grace are closed: closing them at
	// once, as Go's http.Server.Shutdown and Node's server.close() do,
	// fails a request a client is sending on one just then. Go workers get
	// it through Serve; Node workers' HTTP and HTTPS servers through a
	// preload the cluster writes to the user's cache directory (or the
	// temporary one) and adds to their NODE_OPTIONS (--require). 0 means
	// DefaultIdleGrace; a negative value closes idle connections at once
	// and adds no preload.
	IdleGrace time.Duration
	// Command returns the command for a new worker. nil runs this same
	// executable with the same arguments, its output going to this
	// process's stdout and stderr. The cluster sets the channel, the
	// worker's environment, Setpgid and Pdeathsig on what it returns.
	Command func(id int) *proc.Cmd
	// OnEvent, if set, is called for every event, in order, on the
	// primary's own goroutine: it must return quickly.
	OnEvent func(Event)
	// OnMessage, if set, receives the user messages workers send (their
	// handle, if any, is the callee's to close). It runs on a goroutine
	// per worker, in that worker's order.
	OnMessage func(w WorkerInfo, m *ipc.Message)
	// Logger receives the cluster's own log lines; nil means none.
	Logger *slog.Logger
	// NoSignals stops Run from handling SIGTERM, SIGINT, SIGHUP, SIGTTIN
	// and SIGTTOU itself.
	NoSignals bool
	// State configures the embedded store of package state, which Run
	// hosts for the workers unless State.Disabled.
	State StateConfig
	// MaxMemory, if positive, bounds a worker's resident memory in bytes:
	// one whose RSS stays above it for memoryStrikes checks in a row (one
	// a second) is replaced as if it had called Leave. 0 means no limit.
	MaxMemory int64
	// HeartbeatTimeout, if positive, is how long a worker that speaks
	// herd's protocol may go without a heartbeat (the library sends one a
	// second, or more often for short timeouts) before it is taken for
	// hung: it gets no more round-robin traffic once it has missed three
	// heartbeats (or half the timeout, if shorter), and at the timeout it
	// is sent SIGABRT (a Go program
	// prints its goroutines' stacks), replaced, and sent SIGKILL after
	// hungKillGrace. Node workers and programs that do not speak herd's
	// protocol send no heartbeats and are not watched. 0 means off.
	HeartbeatTimeout time.Duration
	// MaxWorkerSockets bounds the distinct sockets one worker may ask the
	// primary for (herd's Listen, Node's listen): past it, the request
	// fails with EMFILE, and the primary logs it once for that worker. A
	// socket a worker asked for closes once no worker holds it. 0 means
	// DefaultMaxWorkerSockets.
	MaxWorkerSockets int
	// WorkerProcs is the GOMAXPROCS each worker is started with, through
	// its environment (so only Go workers heed it). 0 shares the CPUs out,
	// max(1, NumCPU / the number of workers wanted when it starts), so
	// that N Go workers do not each schedule goroutines on every core and
	// fight over them; a negative value leaves the environment alone. A
	// GOMAXPROCS already in the worker's environment always wins.
	WorkerProcs int
	// MaxMessage is the longest message, in bytes, a worker may send on
	// its channel: a longer line cuts the worker off (it is killed, with
	// the reason logged, and replaced as after a crash), and the primary
	// never buffers more than about this much of one worker's line. 0
	// means DefaultMaxMessage.
	MaxMessage int
	// MaxQueue bounds the bytes waiting to be written to one worker (the
	// primary's replies, hand-offs and Send): a worker that lets more pile
	// up, because it does not read its channel, is cut off as for
	// MaxMessage, so that the primary never waits on one worker. A message
	// alone is always queued, however long. 0 means DefaultMaxQueue.
	MaxQueue int
}

// Readiness says when a worker counts as ready to serve.
type Readiness int

const (
	// ReadyOnListen: after its first successful Listen, or an explicit
	// Ready, whichever comes first. A Node worker is ready when its first
	// server listens; one that makes no server, once its start settled
	// (herd's preload says so: startGrace after its main module ran and
	// its last module load, no net.Server made; without the preload,
	// startGrace after its first message if it asked for no server).
	ReadyOnListen Readiness = iota
	// ReadyExplicit: only after the worker calls Ready.
	ReadyExplicit
	// ReadyOnStart: as soon as the process started (for programs that do
	// not speak herd's protocol).
	ReadyOnStart
)

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	if c.MaxWorkerSockets <= 0 {
		c.MaxWorkerSockets = DefaultMaxWorkerSockets
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = DefaultMaxWorkers()
	}
	if c.Workers <= 0 {
		c.Workers = min(runtime.NumCPU(), c.MaxWorkers)
	}
	if c.MaxRestarts == 0 {
		c.MaxRestarts = DefaultMaxRestarts
	}
	c.RestartWindow = orDefault(c.RestartWindow, DefaultRestartWindow)
	c.BackoffMin = orDefault(c.BackoffMin, DefaultBackoffMin)
	c.BackoffMax = orDefault(c.BackoffMax, DefaultBackoffMax)
	c.KillTimeout = orDefault(c.KillTimeout, DefaultKillTimeout)
	c.ReadyTimeout = orDefault(c.ReadyTimeout, DefaultReadyTimeout)
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	c.IdentifyTimeout = orDefault(c.IdentifyTimeout, DefaultIdentifyTimeout)
	if c.IdleGrace == 0 {
		c.IdleGrace = DefaultIdleGrace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

package cluster

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herdhq/herd/ipc"
)

// listenTimeout bounds how long Listen waits for the primary's answer.
const listenTimeout = 30 * time.Second

// worker is this process's side of the cluster. A process is a worker or
// not for its whole life, so this state is made once, on first use.
type worker struct {
	id          int
	ch          *ipc.Channel
	killTimeout time.Duration
	idleGrace   time.Duration
	seq         atomic.Int64

	mu        sync.Mutex
	waiting   map[int64]chan *ipc.Message // listen requests by seq
	listeners map[string]*rrListener      // round-robin listeners by key
	tracked   []net.Listener              // every listener handed out, closed on disconnect

	stopping      chan struct{}
	stopOnce      sync.Once
	managed       atomic.Bool  // user code watches Stopping: it decides when to exit
	open          atomic.Int64 // connections accepted and not yet closed
	handingBack   atomic.Int64 // connections given back to the primary and not yet acknowledged
	closedPending atomic.Int64 // closes not yet reported (least-connections)

	hooks sync.Map // cmd → func(*ipc.Message): HandleInternal's routes
}

var self = sync.OnceValues(initWorker)

// initWorker reads the environment once: a worker has EnvWorkerID and a
// channel. Both are removed from the environment so that the worker's own
// children do not take themselves for workers.
func initWorker() (*worker, error) {
	os.Unsetenv(envNodeUniqueID) // for Node workers only: a Node grandchild would take itself for one
	v, ok := os.LookupEnv(EnvWorkerID)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvWorkerID)
	kt := killTimeoutFromEnv(os.Getenv(EnvKillTimeout), DefaultKillTimeout)
	os.Unsetenv(EnvKillTimeout)
	ig := idleGraceFromEnv(os.Getenv(EnvIdleGrace), DefaultIdleGrace)
	os.Unsetenv(EnvIdleGrace)
	id, _ := strconv.Atoi(v)
	w := &worker{id: id, killTimeout: kt, idleGrace: ig, waiting: map[int64]chan *ipc.Message{},
		listeners: map[string]*rrListener{}, stopping: make(chan struct{})}
	// A connection reaches Accept only once its ACK is on the wire: a
	// primary that sees the channel close without it may give the
	// connection to another worker, as no code here read from it.
	ch, err := ipc.Inherited(&ipc.Options{Internal: w.internal, AckBeforeDeliver: true})
	if err != nil {
		return w, fmt.Errorf("cluster: worker %d has no channel to its primary: %w", id, err)
	}
	w.ch = ch
	// herd's primary reads descriptors in order: connections given back
	// on a disconnect need not wait for each one's acknowledgement.
	ch.SetHandleWindow(handleWindow)
	ch.Send(newMsg(actOnline))
	go w.watchPrimary()
	if every := heartbeatFromEnv(); every > 0 {
		go w.heartbeat(every)
	}
	return w, nil
}

// IsWorker reports whether this process was started as a cluster worker.
func IsWorker() bool {
	w, _ := self()
	return w != nil
}

// IsPrimary reports whether this process is not a worker: the process that
// should call Run.
func IsPrimary() bool { return !IsWorker() }

// WorkerID is this worker's id (from 1), or 0 outside a cluster.
func WorkerID() int {
	if w, _ := self(); w != nil {
		return w.id
	}
	return 0
}

// Channel returns the worker's channel to its primary, for user messages
// (Send, Recv); nil outside a cluster. herd's own messages never come out
// of its Recv.
func Channel() *ipc.Channel {
	if w, _ := self(); w != nil {
		return w.ch
	}
	return nil
}

// Ready tells the primary that this worker is ready to serve. Listening is
// the default readiness; call Ready when the primary is configured with
// ReadyExplicit. Outside a cluster it does nothing.
func Ready() error {
	w, err := self()
	if w == nil || err != nil {
		return err
	}
	return w.ch.Send(newMsg(actReady))
}

// Leave tells the primary that this worker hit a fatal error: the primary
// forks its replacement at once and stops routing to it, and the worker is
// asked to drain (Stopping closes). Outside a cluster it does nothing.
func Leave(reason error) error {
	w, err := self()
	if w == nil || err != nil {
		return err
	}
	m := newMsg(actLeave)
	if reason != nil {
		m.Reason = reason.Error()
	}
	return w.ch.Send(m)
}

// Stopping is closed when this worker must stop: the primary asked it to
// drain (a stop, a reload, a scale-down, a Leave). Outside a cluster it is
// closed on SIGINT or SIGTERM. A worker that calls Stopping decides when to
// exit; one that never does exits by itself once its listeners are closed
// and its connections have ended (or after the kill timeout).
func Stopping() <-chan struct{} {
	w, _ := self()
	if w == nil {
		return standaloneStop()
	}
	w.managed.Store(true)
	return w.stopping
}

var standaloneStop = sync.OnceValue(func() <-chan struct{} {
	c := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go watchStopSignals(sigs, c)
	return c
})

// watchStopSignals closes c at the first signal on sigs. It lives as long
// as the process when no signal comes (testutil's leak check expects it).
func watchStopSignals(sigs chan os.Signal, c chan struct{}) {
	<-sigs
	signal.Stop(sigs)
	close(c)
}

// KillTimeout is how long this worker may drain before the primary kills
// it (DefaultKillTimeout outside a cluster).
func KillTimeout() time.Duration {
	if w, _ := self(); w != nil {
		return w.killTimeout
	}
	return DefaultKillTimeout
}

// IdleGrace is how long this worker, draining, keeps keep-alive
// connections that send no request open (Config.IdleGrace;
// DefaultIdleGrace outside a cluster).
func IdleGrace() time.Duration {
	if w, _ := self(); w != nil {
		return w.idleGrace
	}
	return DefaultIdleGrace
}

// watchPrimary exits the process when the channel to the primary is lost
// without a disconnect: a worker never outlives its primary.
func (w *worker) watchPrimary() {
	<-w.ch.Done()
	select {
	case <-w.stopping:
	default:
		os.Exit(0)
	}
}

// internal handles herd's messages from the primary, on the channel's read
// goroutine.
func (w *worker) internal(im *ipc.Message) {
	if im.Cmd != cmdHerd {
		if f := w.hook(im.Cmd); f != nil {
			f(im)
			return
		}
		im.CloseHandle()
		return
	}
	m, err := decodeMsg(im.Data)
	if err != nil {
		im.CloseHandle()
		return
	}
	switch {
	case m.Ack != 0:
		w.answered(m, im)
	case m.Act == actConn:
		w.conn(m.Key, im)
	case m.Act == actDisconnect:
		w.disconnect()
	default:
		im.CloseHandle()
	}
}

// answered completes a pending Listen. A round-robin listener is made here,
// before the next message is read, so no connection can arrive first.
func (w *worker) answered(m *msg, im *ipc.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.waiting[m.Ack]
	delete(w.waiting, m.Ack)
	if c == nil {
		im.CloseHandle()
		return
	}
	if m.Error == "" && (m.Mode == modeRR || m.Mode == modeLeastConn) {
		l := newRRListener(w, m)
		w.listeners[m.Key] = l
		im.Handle = l
	}
	c <- im
}

// conn queues a round-robin connection, or gives it back to the primary.
func (w *worker) conn(key string, im *ipc.Message) {
	w.mu.Lock()
	l := w.listeners[key]
	w.mu.Unlock()
	c, ok := im.Handle.(net.Conn)
	if !ok {
		im.CloseHandle()
		return
	}
	if l == nil || !l.offer(c) {
		w.requeue(key, c)
	}
}

// requeue gives a connection back to the primary; handingBack counts it
// until the primary has it, so that a draining worker does not exit with
// it still queued.
func (w *worker) requeue(key string, c net.Conn) {
	m := newMsg(actRequeue)
	m.Key = key
	w.handingBack.Add(1)
	w.ch.SendHandleFunc(m, c, func(error) {
		c.Close()
		w.handingBack.Add(-1)
	})
}

// idle reports whether no connection is open or on its way back.
func (w *worker) idle() bool { return w.open.Load() == 0 && w.handingBack.Load() == 0 }

// disconnect starts the drain: listeners close, Stopping closes, and a
// worker whose code does not watch Stopping exits once idle.
func (w *worker) disconnect() {
	w.stopOnce.Do(func() {
		close(w.stopping)
		w.mu.Lock()
		ls := w.tracked
		w.tracked = nil
		w.mu.Unlock()
		for _, l := range ls {
			l.Close()
		}
		if !w.managed.Load() {
			go w.exitWhenIdle()
		}
	})
}

// exitWhenIdle exits once no accepted connection is open and none is on
// its way back to the primary, or at the kill timeout.
func (w *worker) exitWhenIdle() {
	deadline := time.Now().Add(w.killTimeout)
	for !w.idle() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w.ch.Close()
	os.Exit(0)
}

// track remembers a listener to close on disconnect.
func (w *worker) track(l net.Listener) net.Listener {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tracked = append(w.tracked, l)
	return l
}

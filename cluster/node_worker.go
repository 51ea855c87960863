package cluster

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/ipc"
)

// Before a disconnect, a Node worker gets nodeQuietGrace without a
// newconn in flight (at most nodeQuietMax of waiting): Node's server.close
// destroys connections whose request it has not read yet, so a
// connection it accepted just before would be dropped.
const (
	nodeQuietGrace = 50 * time.Millisecond
	nodeQuietPoll  = 10 * time.Millisecond
	nodeQuietMax   = 2 * time.Second
)

// nodeWorker is the primary's side of Node's cluster protocol with one
// worker, and its speaker. Round-robin connections go one at a time, as
// Node's own primary sends them: a newconn is in flight until the worker
// answers accepted (the primary's copy of the connection is then closed)
// or declines (the connection goes to another worker); the next waits in
// the worker's queue. If the channel dies first, every connection in
// flight or queued goes to another worker: none is dropped, none stays
// open in the primary.
type nodeWorker struct {
	m        *member
	seq      atomic.Int64 // the primary's next seq on this channel
	pending  atomic.Int64 // connections queued or in flight
	leaving  atomic.Bool  // the worker sent exitedAfterDisconnect
	watching sync.Once

	servers map[string]string // loop-owned: handle key → socket key

	mu       sync.Mutex
	routes   map[string]*nodeRoute // socket key → the handle key newconn names
	inflight *nodeConn
	queue    []*nodeConn
	pumping  bool      // a pump is sending: others leave it the queue
	gone     bool      // the channel closed: nothing more is taken
	settled  time.Time // when the last newconn was answered
}

// nodeRoute is how newconn names a socket to a worker: one of the
// worker's handle keys on it.
type nodeRoute struct {
	key    string
	prefix []byte // the newconn line up to its seq
}

// nodeConn is a round-robin connection on its way to a Node worker.
type nodeConn struct {
	fd   int // the dispatcher's, until done
	sock string
	seq  int64
	done func(taken bool)
}

func newNodeWorker(m *member) *nodeWorker {
	return &nodeWorker{m: m, servers: map[string]string{}, routes: map[string]*nodeRoute{}}
}

// watch fails everything pending once the channel closes; it starts on
// the worker's first message.
func (w *nodeWorker) watch() {
	w.watching.Do(func() {
		ch := w.m.cmd.Channel()
		go func() {
			<-ch.Done()
			w.fail()
		}()
	})
}

// listen records that the worker serves socket key sock as handle key.
// It runs on the loop.
func (w *nodeWorker) listen(key, sock string) {
	w.servers[key] = sock
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.routes[sock] == nil {
		w.routes[sock] = &nodeRoute{key: key, prefix: nodeNewconnPrefix(key)}
	}
}

// forget drops a closed handle key and returns its socket key, and
// whether the worker still serves that socket under another key. It runs
// on the loop.
func (w *nodeWorker) forget(key string) (sock string, used bool) {
	sock, ok := w.servers[key]
	if !ok {
		return "", false
	}
	delete(w.servers, key)
	other := ""
	for k, s := range w.servers {
		if s == sock {
			other = k
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case other == "":
		delete(w.routes, sock)
	case w.routes[sock] == nil || w.routes[sock].key == key:
		w.routes[sock] = &nodeRoute{key: other, prefix: nodeNewconnPrefix(other)}
	}
	return sock, other != ""
}

// sockOf returns the socket key of a listening message: the handle key
// it was queried with, whose port was 0 if the server listened on port 0.
func (w *nodeWorker) sockOf(q *nodeIn) string {
	if s, ok := w.servers[q.handleKey()]; ok {
		return s
	}
	zero := *q
	zero.Port = json.RawMessage("0")
	return w.servers[zero.handleKey()]
}

// handOff queues a connection for the worker; see nodeWorker.
func (w *nodeWorker) handOff(_ *member, fd int, sock string, done func(bool)) {
	c := &nodeConn{fd: fd, sock: sock, done: done}
	w.mu.Lock()
	if w.gone {
		w.mu.Unlock()
		done(false)
		return
	}
	w.pending.Add(1)
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	w.pump()
}

// pump sends the next queued connection while none is in flight. One
// pump runs at a time; a settle during it leaves the queue to it.
func (w *nodeWorker) pump() {
	w.mu.Lock()
	if w.pumping {
		w.mu.Unlock()
		return
	}
	w.pumping = true
	for !w.gone && w.inflight == nil && len(w.queue) > 0 {
		c := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		r := w.routes[c.sock]
		if r == nil { // the worker closed that server meanwhile
			w.mu.Unlock()
			w.finish(c, false)
			w.mu.Lock()
			continue
		}
		c.seq = w.seq.Add(1) - 1
		w.inflight = c
		line := nodeNewconn(r.prefix, c.seq)
		w.mu.Unlock()
		w.m.cmd.Channel().SendHandleFunc(line, ipc.Handle{Type: ipc.TypeNative, FD: c.fd}, func(err error) {
			if err != nil {
				w.sendFailed(c, err)
			}
		})
		w.mu.Lock()
	}
	w.pumping = false
	w.mu.Unlock()
}

// sendFailed handles a newconn the worker never got: its channel closed
// (everything pending goes elsewhere), or this one handle failed.
func (w *nodeWorker) sendFailed(c *nodeConn, err error) {
	if w.m.cmd.Channel().Err() != nil {
		w.fail()
		return
	}
	w.settle(c.seq, false)
}

// answered takes a worker's answer to a newconn ({ack, accepted}) on the
// channel's read goroutine, off the primary's loop: the accept path never
// waits for the loop. It reports whether im was such an answer.
func (w *nodeWorker) answered(im *ipc.Message) bool {
	if im.Cmd != cmdNode || im.Handle != nil {
		return false
	}
	var r struct {
		Act      string `json:"act"`
		Ack      *int64 `json:"ack"`
		Accepted bool   `json:"accepted"`
	}
	if json.Unmarshal(im.Data, &r) != nil || r.Ack == nil || r.Act != "" {
		return false
	}
	w.settle(*r.Ack, r.Accepted)
	return true
}

// settle ends the newconn in flight with the worker's answer and sends
// the next one.
func (w *nodeWorker) settle(seq int64, accepted bool) {
	w.mu.Lock()
	c := w.inflight
	if c == nil || c.seq != seq {
		w.mu.Unlock()
		return
	}
	w.inflight = nil
	w.settled = time.Now()
	w.mu.Unlock()
	w.pump()
	w.finish(c, accepted)
}

// fail hands every pending connection back to the dispatcher: the
// channel is gone.
func (w *nodeWorker) fail() {
	w.mu.Lock()
	w.gone = true
	pending := w.queue
	if w.inflight != nil {
		pending = append([]*nodeConn{w.inflight}, pending...)
	}
	w.inflight, w.queue = nil, nil
	w.mu.Unlock()
	for _, c := range pending {
		w.finish(c, false)
	}
}

func (w *nodeWorker) finish(c *nodeConn, taken bool) {
	w.pending.Add(-1)
	c.done(taken)
}

// load is the worker's connections not yet answered, for
// least-connections: Node reports no closed connections, so a worker
// slow to take connections is the loaded one.
func (w *nodeWorker) load() int64 { return w.pending.Load() }

// disconnect asks the worker to close its servers and exit, once no
// newconn has been in flight for nodeQuietGrace. A worker that asked to
// leave itself (exitedAfterDisconnect) is already disconnecting: a second
// disconnect would make Node throw.
func (w *nodeWorker) disconnect(*member) {
	if w.leaving.Load() {
		return
	}
	deadline := time.Now().Add(nodeQuietMax)
	var try func()
	try = func() {
		if !w.quiet() && time.Now().Before(deadline) {
			time.AfterFunc(nodeQuietPoll, try)
			return
		}
		w.send(&nodeCtl{Cmd: cmdNode, Act: nodeActDisconnect})
	}
	try()
}

func (w *nodeWorker) quiet() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone || (w.inflight == nil && len(w.queue) == 0 && time.Since(w.settled) >= nodeQuietGrace)
}

// nextSeq numbers a message of the primary's.
func (w *nodeWorker) nextSeq() int64 { return w.seq.Add(1) - 1 }

// send numbers and sends a message; a closed channel is not an error.
func (w *nodeWorker) send(v any) {
	switch m := v.(type) {
	case *nodeCtl:
		m.Seq = w.nextSeq()
	case *nodeQueryReply:
		m.Seq = w.nextSeq()
	}
	w.m.send(v)
}

// sendHandle numbers and sends a reply with a handle.
func (w *nodeWorker) sendHandle(r *nodeQueryReply, h ipc.Handle) {
	r.Seq = w.nextSeq()
	w.m.cmd.Channel().SendHandleFunc(r, h, func(error) {})
}

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

// nodeWindow is how many round-robin connections may be on their way to
// one Node worker before it answers the oldest. Node's own primary sends
// one at a time, which costs a wake-up of the primary per connection.
// Node's worker needs no such rule: every descriptor reaches it on a
// sendmsg of its own, so each of its reads carries at most one, and it
// answers each newconn as it reads it.
const nodeWindow = 8

// nodeWorker is the primary's side of Node's cluster protocol with one
// worker, and its speaker. A round-robin connection is in flight until
// the worker answers accepted (the primary's copy of the connection is
// then closed) or declines (the connection goes to another worker); up to
// nodeWindow are in flight, the rest wait in the worker's queue. If the
// channel dies first, every connection in flight or queued goes to
// another worker: none is dropped, none stays open in the primary.
type nodeWorker struct {
	m        *member
	seq      atomic.Int64 // the primary's next seq on this channel
	pending  atomic.Int64 // connections queued or in flight
	leaving  atomic.Bool  // the worker sent exitedAfterDisconnect
	watching sync.Once

	servers   map[string]string // loop-owned: handle key → socket key
	asked     bool              // loop-owned: it sent a queryServer
	preloaded bool              // it runs with herd's preload (node_start.go)

	mu       sync.Mutex
	routes   map[string]*nodeRoute // socket key → the handle key newconn names
	inflight []*nodeConn           // sent and not yet answered, oldest first
	queue    []*nodeConn
	pumping  bool      // a pump is sending: others leave it the queue
	line     []byte    // the pump's newconn line, reused (only the pump uses it)
	gone     bool      // the channel closed: nothing more is taken
	settled  time.Time // when the last newconn was answered
}

// nodeRoute is how newconn names a socket to a worker: one of the
// worker's handle keys on it.
type nodeRoute struct {
	key    string
	prefix []byte // the newconn line up to its seq
}

func newNodeWorker(m *member) *nodeWorker {
	return &nodeWorker{m: m, servers: map[string]string{}, routes: map[string]*nodeRoute{}}
}

// watch fails everything pending once the channel closes; it starts on
// the worker's first message.
func (w *nodeWorker) watch() {
	w.watching.Do(func() {
		ch := w.m.cmd.Channel()
		ch.SetHandleWindow(nodeWindow)
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
	return w.gone || (len(w.inflight) == 0 && len(w.queue) == 0 && time.Since(w.settled) >= nodeQuietGrace)
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

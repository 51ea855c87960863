package cluster

// The round-robin hand-off to a Node worker: up to nodeWindow newconns in
// flight, the rest queued, everything handed back if the channel dies.

import (
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/ipc"
)

// nodeConn is a round-robin connection on its way to a Node worker.
type nodeConn struct {
	fd    int         // the dispatcher's, until finish
	d     *dispatcher // where it was accepted, told the outcome
	seq   int64
	acked atomic.Bool // the worker's channel acknowledged the handle
}

// handOff queues a connection for the worker; see nodeWorker.
func (w *nodeWorker) handOff(_ *member, fd int, d *dispatcher) {
	w.mu.Lock()
	if w.gone {
		w.mu.Unlock()
		d.handedOff(fd, w.m, false)
		return
	}
	c := &nodeConn{fd: fd, d: d}
	w.pending.Add(1)
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	w.pump()
}

// pump sends queued connections while the window has room. One pump runs
// at a time; a settle during it leaves the queue to it.
func (w *nodeWorker) pump() {
	w.mu.Lock()
	if w.pumping {
		w.mu.Unlock()
		return
	}
	w.pumping = true
	for !w.gone && len(w.inflight) < nodeWindow && len(w.queue) > 0 {
		c := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		r := w.routes[c.d.key]
		if r == nil { // the worker closed that server meanwhile
			w.mu.Unlock()
			w.finish(c, false)
			w.mu.Lock()
			continue
		}
		c.seq = w.seq.Add(1) - 1
		w.inflight = append(w.inflight, c)
		w.line = appendNewconn(w.line[:0], r.prefix, c.seq)
		line := json.RawMessage(w.line) // LendHandle copies it
		w.mu.Unlock()
		w.m.cmd.Channel().LendHandle(line, ipc.Handle{Type: ipc.TypeNative, FD: c.fd}, func(err error) {
			if err != nil {
				w.sendFailed(c, err)
				return
			}
			c.acked.Store(true)
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
	if ack, accepted, ok := parseNodeAnswer(im.Data); ok {
		w.settle(ack, accepted)
		return true
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

// settle ends a newconn in flight with the worker's answer and sends the
// next one. Answers come in order; an unknown seq is ignored.
func (w *nodeWorker) settle(seq int64, accepted bool) {
	w.mu.Lock()
	i := slices.IndexFunc(w.inflight, func(c *nodeConn) bool { return c.seq == seq })
	if i < 0 {
		w.mu.Unlock()
		return
	}
	c := w.inflight[i]
	w.inflight = slices.Delete(w.inflight, i, i+1)
	w.settled = time.Now()
	w.mu.Unlock()
	w.pump()
	w.finish(c, accepted)
}

// fail ends every pending connection: the channel is gone. One whose
// handle the worker acknowledged may have reached its code (Node answers
// the handle before it hands the connection to the server), which may
// have read from it: its copy is closed, so that the client sees the
// connection end rather than wait on another worker for a request that
// was consumed. The others go back to the dispatcher.
func (w *nodeWorker) fail() {
	w.mu.Lock()
	w.gone = true
	pending := append(w.inflight, w.queue...)
	w.inflight, w.queue = nil, nil
	w.mu.Unlock()
	for _, c := range pending {
		w.finish(c, c.acked.Load())
	}
}

func (w *nodeWorker) finish(c *nodeConn, taken bool) {
	w.pending.Add(-1)
	if taken {
		w.m.handed.Add(1)
	}
	c.d.handedOff(c.fd, w.m, taken)
}

// load is the worker's connections not yet answered, for
// least-connections: Node reports no closed connections, so a worker
// slow to take connections is the loaded one.
func (w *nodeWorker) load() int64 { return w.pending.Load() }

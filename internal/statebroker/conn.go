package statebroker

import (
	"sync"
	"sync/atomic"

	"github.com/herdhq/herd/internal/statewire"
)

// Conn is one client of the broker: a worker's channel, or an in-process
// client.
type Conn struct {
	b    *Broker
	send func([]byte) error
	done <-chan struct{}
	wake chan struct{}

	subs map[int64]*sub // guarded by b.mu
	gone bool           // guarded by b.mu: detached

	qmu     sync.Mutex // guards the push queue; taken after b.mu
	q       [][]byte
	head    int
	qBytes  int
	dropped atomic.Uint64
}

// Attach adds a client. send writes one encoded response (a line of JSON,
// without its newline) to it, in order; it may keep the slice. Replies
// are written by Handle's caller, pushes by a goroutine of the client's
// own. The client is removed, with its subscriptions, when done is
// closed. On a closed broker the client is refused every request.
func (b *Broker) Attach(send func([]byte) error, done <-chan struct{}) *Conn {
	c := &Conn{b: b, send: send, done: done, wake: make(chan struct{}, 1), subs: map[int64]*sub{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return c
	}
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	go c.run()
	return c
}

// Handle handles one request from the client and writes its answer.
func (c *Conn) Handle(data []byte) {
	var req statewire.Request
	if err := statewire.DecodeRequest(data, &req); err != nil {
		if req.ID != 0 {
			c.reply(&statewire.Response{Ack: req.ID, Err: statewire.ErrBad, Msg: err.Error()})
		}
		return
	}
	resp := c.b.do(c, &req)
	resp.Ack = req.ID
	c.reply(resp)
}

func (c *Conn) reply(r *statewire.Response) {
	c.send(statewire.AppendResponse(make([]byte, 0, 64+len(r.Val)*4/3), r))
}

// run writes the queued pushes until the client goes away or the broker
// stops.
func (c *Conn) run() {
	defer c.b.wg.Done()
	for {
		select {
		case <-c.wake:
			c.flush()
		case <-c.done:
			c.detach()
			return
		case <-c.b.stop:
			return
		}
	}
}

// enqueue queues a push, dropping the oldest waiting pushes when the
// queue is over its limits.
func (c *Conn) enqueue(line []byte) {
	lim := &c.b.lim
	c.qmu.Lock()
	for n := len(c.q) - c.head; n > 0 && (n >= lim.QueueMessages || c.qBytes+len(line) > lim.QueueBytes); n-- {
		c.qBytes -= len(c.q[c.head])
		c.q[c.head] = nil
		c.head++
		c.dropped.Add(1)
	}
	c.q = append(c.q, line)
	c.qBytes += len(line)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush writes every queued push.
func (c *Conn) flush() {
	for {
		c.qmu.Lock()
		batch := c.q[c.head:]
		c.q, c.head, c.qBytes = nil, 0, 0
		c.qmu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, line := range batch {
			if c.send(line) != nil {
				return // the channel is closing: done follows
			}
		}
	}
}

// detach removes the client and its subscriptions.
func (c *Conn) detach() {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range c.subs {
		b.unsubscribe(s)
	}
	delete(b.conns, c)
	c.gone = true
}

package statebroker

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/herdhq/herd/internal/statewire"
)

// writeChunk is how many bytes of frames one write carries at most.
const writeChunk = 256 << 10

// Conn is one client of the broker, on a socket of its own: a goroutine
// reads its requests and writes their replies (in batches: one write for
// all the requests that arrived together, with the pushes queued for the
// client meanwhile), another writes the pushes queued for it by the
// requests of other clients and by expiry.
type Conn struct {
	b    *Broker
	nc   *statewire.Sock
	wake chan struct{}
	quit chan struct{} // closed once the reader ended

	subs    map[uint64]*sub // guarded by b.mu
	gone    bool            // guarded by b.mu: detached
	touched bool            // guarded by b.mu: in b.touched

	qmu     sync.Mutex // guards the push queue; taken after b.mu
	q       [][]byte
	head    int
	qBytes  int
	writing bool // pushes taken from the queue are being written
	dropped atomic.Uint64
}

// Connect makes a new client: the broker serves one end of a new socket
// pair, and the caller gets the other, to use or to hand to a worker.
// The client is removed, with its subscriptions, when the other end is
// closed (or its process dies).
func (b *Broker) Connect() (net.Conn, error) {
	mine, theirs, err := statewire.Pair()
	if err != nil {
		return nil, fmt.Errorf("statebroker: %w", err)
	}
	sock, err := statewire.NewSock(mine, false) // its client may be in this process
	if err != nil {
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("statebroker: %w", err)
	}
	c := &Conn{b: b, nc: sock, wake: make(chan struct{}, 1), quit: make(chan struct{}), subs: map[uint64]*sub{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		sock.Close()
		theirs.Close()
		return nil, fmt.Errorf("statebroker: closed")
	}
	b.conns[c] = struct{}{}
	b.wg.Add(2)
	go c.read()
	go c.write()
	return theirs, nil
}

// read handles the client's requests until its socket closes or sends a
// frame that does not parse.
func (c *Conn) read() {
	defer c.b.wg.Done()
	defer c.detach()
	in := statewire.NewReader(c.nc, 64<<10)
	var out []byte
	var req statewire.Request
	for {
		body, err := in.Next()
		if err != nil {
			return
		}
		req = statewire.Request{}
		if statewire.ParseRequest(body, &req) != nil {
			return
		}
		resp := c.b.do(c, &req)
		resp.ID = req.ID
		out = statewire.AppendReply(out, resp)
		if in.Buffered() == 0 || len(out) >= writeChunk {
			batch := c.take()
			for _, f := range batch {
				out = append(out, f...)
			}
			if _, err := c.nc.Write(out); err != nil {
				return
			}
			if batch != nil {
				c.taken()
			}
			out = reuse(out)
		}
	}
}

// reuse empties a buffer, dropping one that a large frame made large.
func reuse(b []byte) []byte {
	if cap(b) > 1<<20 {
		return nil
	}
	return b[:0]
}

// write writes the queued pushes until the client is gone.
func (c *Conn) write() {
	defer c.b.wg.Done()
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		case <-c.b.stop:
			return
		}
		for batch := c.take(); len(batch) > 0; batch = c.take() {
			for _, f := range batch {
				buf = append(buf, f...)
				if len(buf) >= writeChunk {
					if !c.flush(buf) {
						return
					}
					buf = reuse(buf)
				}
			}
			if len(buf) > 0 && !c.flush(buf) {
				return
			}
			buf = reuse(buf)
			c.taken()
		}
	}
}

func (c *Conn) flush(buf []byte) bool {
	if _, err := c.nc.Write(buf); err != nil {
		c.nc.Close() // the reader ends, and detaches the client
		return false
	}
	return true
}

// take empties the push queue, to write what it held, unless pushes
// taken before are still being written (pushes go out in order); taken
// ends the write.
func (c *Conn) take() [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.writing || c.head == len(c.q) {
		return nil
	}
	batch := c.q[c.head:]
	c.q, c.head, c.qBytes = nil, 0, 0
	c.writing = true
	return batch
}

// taken follows a take whose pushes were written; the writer goroutine
// is told of what was queued meanwhile.
func (c *Conn) taken() {
	c.qmu.Lock()
	c.writing = false
	more := c.head < len(c.q)
	c.qmu.Unlock()
	if more {
		c.kick()
	}
}

// kick wakes the writer goroutine.
func (c *Conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// enqueue queues a push (b.mu is held), dropping the oldest waiting
// pushes when the queue is over its limits. The client is noted in
// b.touched, for its writer to be woken when b.mu is released.
func (c *Conn) enqueue(frame []byte) {
	lim := &c.b.lim
	c.qmu.Lock()
	for n := len(c.q) - c.head; n > 0 && (n >= lim.QueueMessages || c.qBytes+len(frame) > lim.QueueBytes); n-- {
		c.qBytes -= len(c.q[c.head])
		c.q[c.head] = nil
		c.head++
		c.dropped.Add(1)
	}
	c.q = append(c.q, frame)
	c.qBytes += len(frame)
	c.qmu.Unlock()
	if !c.touched {
		c.touched = true
		c.b.touched = append(c.b.touched, c)
	}
}

// detach removes the client and its subscriptions, and closes its socket.
func (c *Conn) detach() {
	b := c.b
	b.mu.Lock()
	for _, s := range c.subs {
		b.unsubscribe(s)
	}
	delete(b.conns, c)
	c.gone = true
	b.mu.Unlock()
	close(c.quit)
	c.nc.Close()
}

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
	b     *Broker
	nc    *statewire.Sock
	owner int // ConnectFor's owner; 0 for none
	wake  chan struct{}
	quit  chan struct{} // closed once the reader ended

	subs     map[uint64]*sub // guarded by b.mu
	nsubs    int             // guarded by b.mu: channels and keys in subs
	subBytes int             // guarded by b.mu: their names' bytes
	gone     bool            // guarded by b.mu: detached
	touched  bool            // guarded by b.mu: in b.touched
	why      string          // guarded by b.mu: why it was evicted

	qmu      sync.Mutex // guards the push queue; taken after b.mu
	q        []push
	head     int
	qBytes   int64 // bytes in q[head:]
	inflight int64 // bytes taken from q and being written
	writing  bool  // pushes taken from the queue are being written
	dropped  atomic.Uint64
	evicted  atomic.Bool // evict: its pushes are dropped, a bye is queued

	rp, wp progress // the reader's and the writer's writes (patrol.go)
}

// Connect makes a new client with no owner: the broker serves one end of
// a new socket pair, and the caller gets the other, to use or to hand to
// a worker. The client is removed, with its subscriptions, when the
// other end is closed (or its process dies).
func (b *Broker) Connect() (net.Conn, error) { return b.ConnectFor(0) }

// ConnectFor is Connect for a client of owner (a worker's id; 0: none),
// which holds at most Limits.MaxConns connections at once: past them it
// fails with ErrConnLimit. DisconnectOwner closes them all.
func (b *Broker) ConnectFor(owner int) (net.Conn, error) {
	if err := b.reserve(owner); err != nil {
		return nil, err
	}
	nc, err := b.connect(owner)
	if err != nil {
		b.unreserve(owner)
	}
	return nc, err
}

// connect makes a client of owner, whose slot is reserved.
func (b *Broker) connect(owner int) (net.Conn, error) {
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
	c := &Conn{b: b, nc: sock, owner: owner, wake: make(chan struct{}, 1), quit: make(chan struct{}), subs: map[uint64]*sub{}}
	if err := b.attach(c); err != nil {
		sock.Close()
		theirs.Close()
		return nil, err
	}
	return theirs, nil
}

// reserve takes one of owner's connection slots, unless it has none
// left (or the broker is closed): refused, a connection costs nothing.
func (b *Broker) reserve(owner int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("statebroker: closed")
	}
	if owner == 0 {
		return nil
	}
	if b.owners[owner] >= b.lim.MaxConns {
		return fmt.Errorf("%w (%d)", ErrConnLimit, b.lim.MaxConns)
	}
	b.owners[owner]++
	return nil
}

// unreserve gives back the slot of a connection that failed.
func (b *Broker) unreserve(owner int) {
	if owner == 0 {
		return
	}
	b.mu.Lock()
	b.release(owner)
	b.mu.Unlock()
}

// release gives a slot of owner back; b.mu is held.
func (b *Broker) release(owner int) {
	if b.owners[owner]--; b.owners[owner] <= 0 {
		delete(b.owners, owner)
	}
}

// attach registers c and starts its goroutines, unless the broker is
// closed.
func (b *Broker) attach(c *Conn) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("statebroker: closed")
	}
	b.conns[c] = struct{}{}
	b.wg.Add(2)
	go c.read()
	go c.write()
	return nil
}

// DisconnectOwner closes the connections of owner (a worker that exited:
// a process it left behind may still hold its socket). A nil Broker has
// none.
func (b *Broker) DisconnectOwner(owner int) {
	if b == nil || owner == 0 {
		return
	}
	b.mu.Lock()
	var mine []*Conn
	for c := range b.conns {
		if c.owner == owner {
			mine = append(mine, c)
		}
	}
	b.mu.Unlock()
	for _, c := range mine {
		c.nc.Close() // its reader ends, and detaches it
	}
}

// read handles the client's requests until its socket closes or sends a
// frame that does not parse.
func (c *Conn) read() {
	defer c.b.wg.Done()
	defer c.detach()
	in := statewire.NewReader(c.nc, 64<<10)
	in.Limit(statewire.MaxRequest)
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
		if len(body) >= bigPush {
			c.b.churn.Add(int64(len(body)))
		}
		resp := c.b.do(c, &req)
		resp.ID = req.ID
		out = statewire.AppendReply(out, resp)
		if in.Buffered() == 0 || len(out) >= writeChunk {
			batch := c.take()
			out, err = c.send(out, batch, &c.rp)
			c.taken(batch)
			if err != nil {
				return
			}
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
			var err error
			buf, err = c.send(buf, batch, &c.wp)
			c.taken(batch)
			if err != nil {
				c.nc.Close() // the reader ends, and detaches the client
				return
			}
		}
	}
}

// detach removes the client and its subscriptions, drops its pushes, and
// closes its socket.
func (c *Conn) detach() {
	b := c.b
	b.mu.Lock()
	for _, s := range c.subs {
		b.unsubscribe(s)
	}
	delete(b.conns, c)
	if c.owner != 0 {
		b.release(c.owner)
	}
	c.gone = true
	c.clearQueue()
	b.mu.Unlock()
	close(c.quit)
	c.nc.Close()
}

package statebroker

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/herdhq/herd/internal/statewire"
	"golang.org/x/sys/unix"
)

// writeChunk is how many bytes of frames one write carries at most.
const writeChunk = 256 << 10

// Conn is one client of the broker, on a socket of its own: a goroutine
// reads its requests and writes their replies (in batches: one write for
// all the requests that arrived together), another writes the pushes
// queued for it.
type Conn struct {
	b    *Broker
	nc   net.Conn
	wake chan struct{}
	quit chan struct{} // closed once the reader ended

	subs map[uint64]*sub // guarded by b.mu
	gone bool            // guarded by b.mu: detached

	qmu     sync.Mutex // guards the push queue; taken after b.mu
	q       [][]byte
	head    int
	qBytes  int
	dropped atomic.Uint64
}

// Connect makes a new client: the broker serves one end of a new socket
// pair, and the caller gets the other, to use or to hand to a worker.
// The client is removed, with its subscriptions, when the other end is
// closed (or its process dies).
func (b *Broker) Connect() (net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("statebroker: socketpair: %w", err)
	}
	mine, err := fileConn(fds[0])
	if err != nil {
		unix.Close(fds[1])
		return nil, err
	}
	theirs, err := fileConn(fds[1])
	if err != nil {
		mine.Close()
		return nil, err
	}
	c := &Conn{b: b, nc: mine, wake: make(chan struct{}, 1), quit: make(chan struct{}), subs: map[uint64]*sub{}}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("statebroker: closed")
	}
	b.conns[c] = struct{}{}
	b.wg.Add(2)
	go c.read()
	go c.write()
	return theirs, nil
}

// fileConn makes a net.Conn of a socket descriptor, which it takes.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "state")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("statebroker: %w", err)
	}
	return c, nil
}

// read handles the client's requests until its socket closes or sends a
// frame that does not parse.
func (c *Conn) read() {
	defer c.b.wg.Done()
	defer c.detach()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var buf, out []byte
	var req statewire.Request
	for {
		body, err := statewire.ReadFrame(br, buf)
		if err != nil {
			return
		}
		buf = body
		req = statewire.Request{}
		if statewire.ParseRequest(body, &req) != nil {
			return
		}
		resp := c.b.do(c, &req)
		resp.ID = req.ID
		out = statewire.AppendReply(out, resp)
		if br.Buffered() == 0 || len(out) >= writeChunk {
			if _, err := c.nc.Write(out); err != nil {
				return
			}
			out = reuse(out)
		}
		buf = reuse(buf)
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

// take empties the push queue.
func (c *Conn) take() [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	batch := c.q[c.head:]
	c.q, c.head, c.qBytes = nil, 0, 0
	return batch
}

// enqueue queues a push, dropping the oldest waiting pushes when the
// queue is over its limits.
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
	select {
	case c.wake <- struct{}{}:
	default:
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

package statebroker

import (
	"net"
	"sync/atomic"

	"github.com/herdhq/herd/internal/statewire"
)

// bigPush is the size from which a push's body is written from where it
// is (writev) rather than copied into the write buffer.
const bigPush = 32 << 10

// payload is the body of a push (statewire.PushBody), shared by every
// client it is queued for, and counted once in the broker's queued bytes
// (Limits.TotalQueueBytes) for as long as any holds it.
type payload struct {
	b    []byte
	refs atomic.Int32
	b0   *Broker
}

// newPayload counts body in the broker's queued bytes, held once by the
// caller, who releases it when it has queued it.
func (b *Broker) newPayload(body []byte) *payload {
	p := &payload{b: body, b0: b}
	p.refs.Store(1)
	b.queued.Add(int64(len(body)))
	return p
}

func (p *payload) hold() { p.refs.Add(1) }

// release drops a hold; the last uncounts the body (and counts a large
// one in the churn that patrol gives back to the system).
func (p *payload) release() {
	if p.refs.Add(-1) == 0 {
		p.b0.queued.Add(-int64(len(p.b)))
		if len(p.b) >= bigPush {
			p.b0.churn.Add(int64(len(p.b)))
		}
	}
}

// push is a frame queued for a client: head (the frame's start), then
// body's bytes past its type byte; with no body (a bye) head is whole.
type push struct {
	head []byte
	body *payload
}

func (p push) size() int64 {
	n := len(p.head)
	if p.body != nil {
		n += len(p.body.b) - 1
	}
	return int64(n)
}

func (p push) bye() bool { return p.body == nil }

func (p push) release() {
	if p.body != nil {
		p.body.release()
	}
}

// enqueue queues p (b.mu is held), dropping the oldest waiting pushes
// when the queue is over its limits, and p itself when the pushes being
// written fill them. The client is noted in b.touched, for its writer to
// be woken when b.mu is released.
func (c *Conn) enqueue(p push) {
	lim := &c.b.lim
	size := p.size()
	c.qmu.Lock()
	for n := len(c.q) - c.head; n > 0 && (n >= lim.QueueMessages || c.held()+size > lim.QueueBytes); n-- {
		c.dropOldest()
	}
	if c.evicted.Load() || c.held()+size > lim.QueueBytes {
		c.qmu.Unlock()
		c.dropped.Add(1)
		return
	}
	p.body.hold()
	c.q = append(c.q, p)
	c.qBytes += size
	c.qmu.Unlock()
	c.touch()
}

// held is the bytes of the client's pushes, queued or being written.
// c.qmu is held.
func (c *Conn) held() int64 { return c.qBytes + c.inflight }

func (c *Conn) dropOldest() {
	p := c.q[c.head]
	c.qBytes -= p.size()
	p.release()
	c.q[c.head] = push{}
	c.head++
	c.dropped.Add(1)
}

// touch notes c in b.touched (b.mu is held).
func (c *Conn) touch() {
	if !c.touched {
		c.touched = true
		c.b.touched = append(c.b.touched, c)
	}
}

// clearQueue drops every queued push. c.qmu must not be held.
func (c *Conn) clearQueue() {
	c.qmu.Lock()
	for _, p := range c.q[c.head:] {
		p.release()
	}
	c.q, c.head, c.qBytes = nil, 0, 0
	c.qmu.Unlock()
}

// take empties the push queue, to write what it held, unless pushes
// taken before are still being written (pushes go out in order); taken
// ends the write.
func (c *Conn) take() []push {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.writing || c.head == len(c.q) {
		return nil
	}
	batch := c.q[c.head:]
	c.inflight = c.qBytes
	c.q, c.head, c.qBytes = nil, 0, 0
	c.writing = true
	return batch
}

// taken follows a take (a nil batch: none): the batch's bodies are
// released, and the writer goroutine is told of what was queued
// meanwhile.
func (c *Conn) taken(batch []push) {
	if batch == nil {
		return
	}
	for i, p := range batch {
		p.release()
		batch[i] = push{}
	}
	c.qmu.Lock()
	c.writing, c.inflight = false, 0
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

// send writes buf (replies, or nothing) and then the pushes of batch, in
// order, in writes of about writeChunk: a small push is copied into buf,
// a large one's body is written from where it is (with buf before it, in
// one writev). Once the client is evicted the rest of the batch is
// skipped; after a bye the socket is closed. It returns buf, emptied.
func (c *Conn) send(buf []byte, batch []push, pr *progress) ([]byte, error) {
	for _, p := range batch {
		if c.evicted.Load() && !p.bye() {
			continue
		}
		if p.bye() || len(p.body.b) < bigPush {
			buf = append(buf, p.head...)
			if p.body != nil {
				buf = append(buf, p.body.b[1:]...)
			}
			if len(buf) < writeChunk {
				continue
			}
		}
		var err error
		if buf, err = c.flush(buf, p, pr); err != nil {
			return buf, err
		}
	}
	buf, err := c.flush(buf, push{}, pr)
	if n := len(batch); err == nil && n > 0 && batch[n-1].bye() {
		c.nc.Close() // the bye was the last frame: the reader ends, and detaches the client
	}
	return buf, err
}

// flush writes buf, and big's frame after it unless big was copied into
// buf (a small push, or none); it returns buf emptied.
func (c *Conn) flush(buf []byte, big push, pr *progress) ([]byte, error) {
	var err error
	pr.begin()
	switch {
	case big.body != nil && len(big.body.b) >= bigPush:
		iov := net.Buffers{buf, big.head, big.body.b[1:]}
		_, err = c.nc.WriteBuffers(&iov)
	case len(buf) > 0:
		_, err = c.nc.Write(buf)
	}
	pr.end()
	return reuse(buf), err
}

// byeFrame is the push that ends an evicted client's stream.
func byeFrame(why string) push {
	return push{head: statewire.AppendBye(nil, statewire.CodeEvicted, why)}
}

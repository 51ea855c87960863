package ipc

import "sync"

// inbox holds the user messages waiting for Recv. The read goroutine adds
// each read's messages at once, so a busy channel costs one lock and at
// most one wake-up per read instead of per message (a chan *Message cost
// both per message, and its lock bounced between the two goroutines).
type inbox struct {
	mu      sync.Mutex
	q       []*Message // waiting messages: q[head:]
	head    int
	limit   int  // at most this many wait
	waiters int  // receivers waiting on ready
	full    bool // the reader waits for room
	closed  bool // no more messages will come

	// ready wakes a waiting receiver (one token at most, and it may be
	// stale: receivers check again); one that takes a message and sees
	// more and other waiters passes it on. room wakes the reader once a
	// receiver took a message from a full inbox.
	ready chan struct{}
	room  chan struct{}
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// notify leaves a token in c unless one is there.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put adds batch, in order, waiting for room while limit messages wait.
// It returns the messages it could not add because done was closed first.
func (b *inbox) put(batch []*Message, done <-chan struct{}) (left []*Message) {
	for len(batch) > 0 {
		b.mu.Lock()
		n := min(len(batch), b.limit-(len(b.q)-b.head))
		if n <= 0 {
			b.full = true
			b.mu.Unlock()
			select {
			case <-b.room:
				continue
			case <-done:
				return batch
			}
		}
		wake := b.waiters > 0
		if b.head > 0 && b.head >= len(b.q)/2 {
			kept := copy(b.q, b.q[b.head:])
			clear(b.q[kept:])
			b.q, b.head = b.q[:kept], 0
		}
		b.q = append(b.q, batch[:n]...)
		b.mu.Unlock()
		batch = batch[n:]
		if wake {
			notify(b.ready)
		}
	}
	return nil
}

// close marks the end: receivers get what waits, then nothing.
func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	notify(b.ready)
}

// take returns the next message, waiting for one; ok is false once the
// inbox is closed and empty, or when cancel (which may be nil) is closed
// first (then canceled is true).
func (b *inbox) take(cancel <-chan struct{}) (m *Message, ok, canceled bool) {
	b.mu.Lock()
	for b.head == len(b.q) {
		if b.closed {
			b.mu.Unlock()
			notify(b.ready) // for the other receivers
			return nil, false, false
		}
		b.waiters++
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-cancel:
			canceled = true
		}
		b.mu.Lock()
		b.waiters--
		if canceled {
			b.mu.Unlock()
			return nil, false, true
		}
	}
	m = b.q[b.head]
	b.q[b.head] = nil
	b.head++
	if b.head == len(b.q) {
		b.q, b.head = b.q[:0], 0
	}
	pass := b.waiters > 0 && b.head < len(b.q)
	wake := b.full
	b.full = false
	b.mu.Unlock()
	if pass {
		notify(b.ready)
	}
	if wake {
		notify(b.room)
	}
	return m, true, false
}

// drain removes and returns every waiting message.
func (b *inbox) drain() []*Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.q[b.head:]
	b.q, b.head = nil, 0
	return q
}

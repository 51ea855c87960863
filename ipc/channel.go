package ipc

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxMessageSize is the longest line a channel accepts when
// Options.MaxMessageSize is zero: 64 MiB.
const DefaultMaxMessageSize = 64 << 20

// DefaultRecvBuffer is how many received messages wait for Recv when
// Options.RecvBuffer is zero.
const DefaultRecvBuffer = 1024

// closeFlushTimeout bounds how long Close waits for queued bytes to reach
// a peer that does not read.
const closeFlushTimeout = 2 * time.Second

// Options tunes a Channel. The zero value is ready to use.
type Options struct {
	// MaxMessageSize is the longest line, in bytes without the newline, the
	// channel accepts from the peer; a longer one closes the channel with a
	// TooLarge error. Zero means DefaultMaxMessageSize.
	MaxMessageSize int
	// RecvBuffer is how many received messages may wait for Recv. When it
	// is full the channel stops reading the socket (the read goroutine
	// may hold up to as many more, parsed from the reads it already made),
	// and so also stops seeing the acknowledgements of handles it sent:
	// keep calling Recv. Zero means DefaultRecvBuffer.
	RecvBuffer int
	// MaxQueue, if positive, bounds the bytes waiting to be written
	// (messages not yet written in full, held ones included): a send
	// that would pass it, while anything waits, fails at once with
	// ErrQueueFull, and the channel closes with that error, since a
	// message dropped from the middle of the stream would break the
	// order the peer counts on. Sends then never wait on the peer nor
	// write on the caller's goroutine more than one non-blocking write,
	// so that a process serving many peers is never held up by one that
	// does not read. Zero keeps the default: a send waits while more than
	// 4 MiB wait (the peer is trusted to read), and SendHandle writes on
	// the caller's goroutine.
	MaxQueue int
	// AckBeforeDeliver makes the read goroutine write each received
	// handle's NODE_HANDLE_ACK to the socket before it passes the handle
	// on (to Recv or Internal): a peer that sees the channel close
	// without the ACK knows that no code of this process saw the handle
	// (a connection was not read from), and may give it to someone else.
	// A handle whose ACK cannot be written (the channel closed) is closed
	// and not passed on. The read goroutine then waits on writes: the
	// peer must keep reading, and at most one side of a channel may set
	// it, or both could wait on each other.
	AckBeforeDeliver bool
	// Internal, if set, receives every internal message (cmd "NODE_...")
	// other than the handle protocol's own, together with its handle if one
	// came. It runs on the channel's read goroutine: it must not block, and
	// it must not wait for SendHandle (use SendHandleAsync). Without it,
	// internal messages are dropped and their handles closed.
	Internal func(*Message)
}

// Channel is one end of an IPC channel. Its methods are safe for
// concurrent use.
type Channel struct {
	conn     *net.UnixConn
	max      int
	ackFirst bool
	internal func(*Message)
	in       *inbox
	readDone chan struct{}
	done     chan struct{}
	w        writer

	inHandler atomic.Int32 // the read goroutine is in Options.Internal

	once sync.Once
	mu   sync.Mutex
	err  error
}

// New runs a channel over conn, which must be a connected AF_UNIX
// SOCK_STREAM socket. The channel owns conn from now on. opts may be nil.
func New(conn *net.UnixConn, opts *Options) *Channel {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.RecvBuffer <= 0 {
		o.RecvBuffer = DefaultRecvBuffer
	}
	c := &Channel{
		conn:     conn,
		max:      o.MaxMessageSize,
		ackFirst: o.AckBeforeDeliver,
		internal: o.Internal,
		in:       newInbox(o.RecvBuffer),
		readDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.w.init(c, o.MaxQueue)
	go c.readLoop()
	return c
}

// FromFile runs a channel over the socket f; f is closed (the channel
// keeps its own duplicate).
func FromFile(f *os.File, opts *Options) (*Channel, error) {
	defer f.Close()
	fc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("ipc: channel from %s: %w", f.Name(), err)
	}
	uc, ok := fc.(*net.UnixConn)
	if !ok {
		fc.Close()
		return nil, fmt.Errorf("ipc: channel from %s: not a Unix socket (%T)", f.Name(), fc)
	}
	return New(uc, opts), nil
}

// Pair returns the two ends of a new channel in this process, as a
// parent's end and the *os.File to hand to a child (proc does this).
func Pair() (parent *net.UnixConn, child *os.File, err error) {
	fds, err := socketpair()
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), "ipc-parent")
	child = os.NewFile(uintptr(fds[1]), "ipc-child")
	fc, err := net.FileConn(pf)
	pf.Close()
	if err != nil {
		child.Close()
		return nil, nil, fmt.Errorf("ipc: socketpair: %w", err)
	}
	return fc.(*net.UnixConn), child, nil
}

// Recv returns the next user message. Once the channel is closed and every
// buffered message has been returned, it returns the reason: ErrClosed,
// ErrDisconnected, a *ProtocolError, or the socket's error.
func (c *Channel) Recv() (*Message, error) {
	m, ok, _ := c.in.take(nil)
	if !ok {
		return nil, c.Err()
	}
	return m, nil
}

// RecvContext is Recv that gives up when ctx is done, returning ctx.Err().
func (c *Channel) RecvContext(ctx context.Context) (*Message, error) {
	m, ok, canceled := c.in.take(ctx.Done())
	switch {
	case canceled:
		return nil, ctx.Err()
	case !ok:
		return nil, c.Err()
	}
	return m, nil
}

// Messages iterates over the user messages until the channel closes; Err
// then tells why.
func (c *Channel) Messages() iter.Seq[*Message] {
	return func(yield func(*Message) bool) {
		for {
			m, ok, _ := c.in.take(nil)
			if !ok || !yield(m) {
				return
			}
		}
	}
}

// Done is closed when the channel is closed, by either side or by an error.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Err returns nil while the channel is open, then why it closed.
func (c *Channel) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close disconnects: it waits (briefly) for messages already accepted by
// Send to be written, closes the socket, and closes every received handle
// that Recv had not returned yet. Messages held behind an unacknowledged
// handle are dropped. Close returns nil the first time, then ErrClosed.
// It returns once the read goroutine has ended, unless Options.Internal
// is running (it may be the caller, even one that called Close): the
// read goroutine then ends, and closes what Recv had not returned, once
// the handler returns.
func (c *Channel) Close() error {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		c.waitReader()
		return ErrClosed
	}
	// Record the reason first, so that a write failing during the drain
	// (the peer does not read) does not become it.
	if c.record(ErrClosed) {
		c.w.drain(closeFlushTimeout)
		c.release(ErrClosed)
	}
	c.waitReader()
	return nil
}

// waitReader waits for the read goroutine to end, unless it is in the
// Internal handler, and closes the handles of messages Recv had not
// returned.
func (c *Channel) waitReader() {
	if c.inHandler.Load() != 0 {
		return
	}
	<-c.readDone
	c.dropUnread()
}

// dropUnread closes the handles of the messages Recv had not returned,
// once this side closed the channel.
func (c *Channel) dropUnread() {
	if !errors.Is(c.Err(), ErrClosed) {
		return
	}
	for _, m := range c.in.drain() {
		m.CloseHandle()
	}
}

// fail closes the channel because of err (from the read loop or a write).
func (c *Channel) fail(err error) { c.shut(err) }

// shut records the first error, wakes everyone up and closes the socket.
func (c *Channel) shut(err error) {
	if c.record(err) {
		c.release(err)
	}
}

// record makes err the reason the channel closed, and closes Done, unless
// a reason was recorded already; it reports whether err was recorded.
func (c *Channel) record(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.err = err
	close(c.done)
	return true
}

// release stops the writer and closes the socket once err was recorded.
func (c *Channel) release(err error) {
	c.w.abort(err)
	c.conn.Close()
}

// Conn returns the underlying socket, for SO_PEERCRED checks and the like.
// Do not read from or write to it.
func (c *Channel) Conn() *net.UnixConn { return c.conn }

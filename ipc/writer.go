package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// highWater is how many unwritten bytes make Send wait for the socket
// (unless Options.MaxQueue bounds the queue instead).
const highWater = 4 << 20

// item is one outgoing line; fd >= 0 marks a handle envelope whose
// descriptor rides on the same sendmsg: a duplicate the writer owns, or
// the caller's own when lent (LendHandle), which the writer never closes.
type item struct {
	line []byte
	fd   int
	lent bool
	done func(error) // handle items only: called once with the peer's answer
}

// writer serialises writes. A Send that finds it idle starts a flusher
// goroutine, which writes until nothing is left; meanwhile later Sends only
// append to out, so a sender in a loop, or many senders, get their lines
// written in few large writes (a lone Send costs a goroutine hop, which
// measured no slower in a ping-pong than writing inline). SendHandle
// flushes inline. After a handle is written, every later item is held
// until the peer's ACK or NACK. With a queue limit (max), nothing waits
// and nothing is written inline but one non-blocking attempt (kickLocked).
//
// A method named xLocked is entered with mu held and returns with it
// held (it may release it meanwhile, around a write).
type writer struct {
	c        *Channel
	mu       sync.Mutex
	idle     *sync.Cond
	out      []byte  // plain lines ready to write
	spare    []byte  // the other buffer, reused
	next     *item   // a handle to write once out is empty
	awaiting []*item // handles written and not yet answered, oldest first
	held     []*item // items queued behind next or awaiting
	window   int     // how many handles may await an answer (1: Node's rule)
	flushing bool
	err      error
	max      int             // Options.MaxQueue; 0: no limit, Send waits at highWater
	writing  int             // bytes of out the flusher took and is writing
	heldSize int             // bytes of the lines in held
	gen      uint64          // out buffers closed so far (taken to be written, or written inline)
	sent     uint64          // out buffers written whole so far: out's bytes of gen g are on the wire once sent > g
	raw      syscall.RawConn // for raw writes, and the reader's reads
	flusher  rawWriter       // the flusher's writes
	now      rawWriter       // sendNow's, under mu
}

func (w *writer) init(c *Channel, max int) {
	w.c = c
	w.max = max
	w.window = 1
	w.idle = sync.NewCond(&w.mu)
	w.raw, _ = c.conn.SyscallConn() // nil: no non-blocking attempts
}

// Send encodes v as JSON and queues it. It returns once the message is
// queued for writing, in order (behind a handle awaiting its ACK, if one
// is); an error means the message will not be sent (the channel is closed,
// or v cannot be encoded as JSON). A write that fails later closes the
// channel (see Err). nil is sent as null, which Node accepts.
//
// A json.RawMessage that is valid JSON without a newline is sent as it is,
// without re-encoding: the fast path for pre-encoded messages. Any other
// json.RawMessage is compacted as encoding/json does.
func (c *Channel) Send(v any) error {
	if raw, ok := v.(json.RawMessage); ok && rawLine(raw) {
		return c.w.enqueueLine(raw)
	}
	e := encoders.Get().(*lineEncoder)
	defer e.release()
	line, err := e.encode(v)
	if err != nil {
		return err
	}
	return c.w.enqueueLine(line)
}

// SendHandle sends v with the handle h and waits for the peer's answer. h
// is a net.Listener (sent as "net.Server"), a net.Conn ("net.Socket"), a
// net.PacketConn on UDP ("dgram.Socket"), or a Handle naming the type. The
// socket is checked against the type first. SendHandle sends a duplicate:
// the caller keeps h and closes it when done with it. It returns
// ErrHandleRejected when the peer could not take the handle.
func (c *Channel) SendHandle(v any, h any) error {
	return <-c.SendHandleAsync(v, h)
}

// SendHandleContext is SendHandle that stops waiting for the peer's answer
// when ctx is done. The handle may still arrive.
func (c *Channel) SendHandleContext(ctx context.Context, v any, h any) error {
	select {
	case err := <-c.SendHandleAsync(v, h):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SendHandleAsync is SendHandle without the wait: the returned channel
// yields the outcome once, when the peer answered (or the send failed).
func (c *Channel) SendHandleAsync(v any, h any) <-chan error {
	res := make(chan error, 1)
	c.SendHandleFunc(v, h, func(err error) { res <- err })
	return res
}

// SendHandleFunc is SendHandle that calls done once with the outcome
// instead of waiting: with nil when the peer acknowledged the handle, else
// with the error. done may run on the channel's read goroutine or on the
// caller's: it must not block, nor wait for another handle.
func (c *Channel) SendHandleFunc(v any, h any, done func(error)) {
	it, err := envelope(v, h)
	if err != nil {
		done(err)
		return
	}
	it.done = done
	if err := c.w.enqueue(it, true); err != nil {
		done(err)
	}
}

// LendHandle is SendHandleFunc for a caller that hands out many raw
// sockets, such as a round-robin primary: it sends h.FD itself rather than
// a duplicate, and does not ask the kernel what the socket is, sparing
// those system calls per handle. The caller vouches that h.FD is a stream
// socket fit for h.Type (net.Native, net.Socket or net.Server) and keeps
// it open until done has run; the channel never closes it.
func (c *Channel) LendHandle(v any, h Handle, done func(error)) {
	li := new(lentItem)
	line, err := lentEnvelope(li.buf[:0], v, h.Type)
	if err != nil {
		done(err)
		return
	}
	li.item = item{line: line, fd: h.FD, lent: true, done: done}
	if err := c.w.enqueue(&li.item, true); err != nil {
		done(err)
	}
}

// lentItem is a lent handle's item with room for its line, so that the
// two take one allocation.
type lentItem struct {
	item
	buf [192]byte
}

// lentEnvelope appends the NODE_HANDLE line of LendHandle to dst, as
// envelope would encode it, without reflection when v is pre-encoded.
func lentEnvelope(dst []byte, v any, typ string) ([]byte, error) {
	switch typ {
	case TypeNative, TypeSocket, TypeServer:
	default:
		return nil, fmt.Errorf("ipc: lend handle: type %q is not a stream socket type", typ)
	}
	msg, ok := v.(json.RawMessage)
	if !ok || !rawLine(msg) {
		var err error
		if msg, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("ipc: lend handle: %w", err)
		}
	}
	line := append(dst, `{"cmd":"NODE_HANDLE","type":"`...)
	line = append(append(append(line, typ...), `","msg":`...), msg...)
	return append(line, '}', '\n'), nil
}

// rawLine reports whether raw can go on the wire as it is.
func rawLine(raw []byte) bool {
	return bytes.IndexByte(raw, '\n') < 0 && fastValid(raw)
}

// lineEncoder encodes messages for Send without allocating per message.
type lineEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(lineEncoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// encode returns v's JSON, as json.Marshal makes it, without the newline.
// It is valid until release.
func (e *lineEncoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("ipc: send: %w", err)
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'}), nil
}

// release returns e to the pool, unless a big message made it big.
func (e *lineEncoder) release() {
	if e.buf.Cap() <= 64<<10 {
		encoders.Put(e)
	}
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ipc: send: %w", err)
	}
	return append(b, '\n'), nil
}

// envelope builds the NODE_HANDLE line for v and a duplicate of h's fd.
func envelope(v any, h any) (*item, error) {
	fd, typ, err := dupFD(h)
	if err != nil {
		return nil, fmt.Errorf("ipc: send handle: %w", err)
	}
	si, known := knownSocket(h)
	if !known {
		si, err = inspect(fd)
	}
	if err == nil && typ == "" {
		typ = si.defaultType()
	}
	if err == nil {
		err = si.check(typ)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ipc: send handle: %w", err)
	}
	env := handleEnvelope{Cmd: "NODE_HANDLE", Type: typ, Msg: v}
	if typ == TypeDgramSocket {
		env.DgramType = si.dgramType()
	}
	line, err := encode(env)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &item{line: line, fd: fd}, nil
}

type handleEnvelope struct {
	Cmd       string `json:"cmd"`
	Type      string `json:"type"`
	Msg       any    `json:"msg"`
	Key       string `json:"key,omitempty"`
	DgramType string `json:"dgramType,omitempty"`
}

// enqueue puts it in line. ordered=false lets protocol answers (ACK/NACK)
// pass items held behind a handle, as Node does. The caller flushes if the
// writer is idle; inline=false (the read goroutine) flushes on a new
// goroutine so reading never waits on writing.
func (w *writer) enqueue(it *item, inline bool) error {
	w.mu.Lock()
	err, full := w.admitLocked(len(it.line))
	if err == nil {
		w.place(it)
		w.startLocked(inline)
	}
	w.mu.Unlock()
	if err != nil {
		it.release()
		w.overflow(err, full)
	}
	return err
}

// enqueueLine queues a plain line (without its newline; the writer copies
// it).
func (w *writer) enqueueLine(line []byte) error {
	w.mu.Lock()
	err, full := w.admitLocked(len(line) + 1)
	if err == nil {
		if w.mustHold(false) {
			w.hold(&item{line: append(append(make([]byte, 0, len(line)+1), line...), '\n'), fd: -1})
		} else {
			w.out = append(append(w.out, line...), '\n')
		}
		w.startLocked(false)
	}
	w.mu.Unlock()
	w.overflow(err, full)
	return err
}

// admitLocked says whether n more bytes may be queued: the writer's
// error if it failed, else a queue-full error (full) when they would pass
// the limit while something waits. A message alone is always admitted, so
// the queue holds at most max bytes or one message.
func (w *writer) admitLocked(n int) (err error, full bool) {
	if w.err != nil {
		return w.err, false
	}
	if q := w.queuedLocked(); w.max > 0 && q > 0 && q+n > w.max {
		return fmt.Errorf("%w: %d bytes waiting, %d more would pass the limit of %d", ErrQueueFull, q, n, w.max), true
	}
	return nil, false
}

// queuedLocked is how many bytes wait to be written.
func (w *writer) queuedLocked() int {
	n := len(w.out) + w.writing + w.heldSize
	if w.next != nil {
		n += len(w.next.line)
	}
	return n
}

// overflow closes the channel when a send found the queue full: the peer
// does not read.
func (w *writer) overflow(err error, full bool) {
	if full {
		w.c.fail(err)
	}
}

// startLocked starts a flush unless one runs (then, without a queue
// limit, it waits while too much is buffered). inline flushes on the
// caller's goroutine.
func (w *writer) startLocked(inline bool) {
	switch {
	case w.max > 0:
		w.kickLocked()
	case w.flushing:
		for w.flushing && len(w.out) > highWater && w.err == nil {
			w.idle.Wait()
		}
	case inline:
		w.flushing = true
		w.flushLocked()
	default:
		w.flushing = true
		go w.flush()
	}
}

// place files it under w.mu: behind a pending handle, or ready to write.
func (w *writer) place(it *item) {
	switch {
	case w.mustHold(it.fd >= 0):
		w.hold(it)
	case it.fd >= 0:
		w.next = it
	default:
		w.out = append(w.out, it.line...)
	}
}

// hold puts it behind the items held, under w.mu.
func (w *writer) hold(it *item) {
	w.held = append(w.held, it)
	w.heldSize += len(it.line)
}

// mustHold reports, under w.mu, whether a new item (a handle or a plain
// line) must wait behind what is queued: always behind a handle not yet
// written or items already held, else as windowFull says.
func (w *writer) mustHold(handle bool) bool {
	return w.next != nil || len(w.held) > 0 || w.windowFull(handle)
}

// windowFull reports whether a handle must wait because the window of
// handles awaiting an answer is full, or a plain line because a handle
// awaits its answer and the window is 1 (Node's rule, which keeps a Node
// receiver's order).
func (w *writer) windowFull(handle bool) bool {
	if handle {
		return len(w.awaiting) >= w.window
	}
	return w.window == 1 && len(w.awaiting) > 0
}

// promoteLocked moves held items, in order, to where they can be written,
// as far as the window allows.
func (w *writer) promoteLocked() {
	for len(w.held) > 0 && w.next == nil && w.err == nil {
		it := w.held[0]
		if w.windowFull(it.fd >= 0) {
			return
		}
		w.held = w.held[1:]
		w.heldSize -= len(it.line)
		if it.fd >= 0 {
			w.next = it
		} else {
			w.out = append(w.out, it.line...)
		}
	}
}

// answer queues a protocol reply from the read goroutine. It bypasses
// held items.
func (w *writer) answer(line []byte) {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	w.out = append(w.out, line...)
	w.kickLocked()
	w.mu.Unlock()
}

// answerWritten is answer that waits until the line is written to the
// socket, behind what was ready before it; it returns the writer's error
// if it failed first.
func (w *writer) answerWritten(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.out = append(w.out, line...)
	g := w.gen
	w.kickLocked()
	for w.sent <= g && w.err == nil {
		w.idle.Wait()
	}
	return w.err
}

// flush is a flusher goroutine: flushLocked under w.mu.
func (w *writer) flush() {
	w.mu.Lock()
	w.flushLocked()
	w.mu.Unlock()
}

// flushLocked writes until nothing is ready, releasing w.mu around each
// write. It is entered with flushing set, and clears it when done.
func (w *writer) flushLocked() {
	for w.err == nil {
		if len(w.out) > 0 {
			w.writeOutLocked()
			continue
		}
		if w.next == nil {
			break
		}
		it := w.next
		fd := it.fd
		it.fd = -1
		w.next, w.awaiting = nil, append(w.awaiting, it)
		w.mu.Unlock()
		err := w.writeFD(it.line, fd, !it.lent)
		w.mu.Lock()
		w.failLocked(err)
		w.promoteLocked()
	}
	w.flushing = false
	w.idle.Broadcast()
}

// writeOutLocked writes out whole, releasing w.mu meanwhile: later lines
// go to the spare buffer.
func (w *writer) writeOutLocked() {
	buf, g := w.out, w.gen
	w.out, w.writing = w.spare[:0], len(buf)
	w.gen++
	w.mu.Unlock()
	_, err := w.write(buf, nil)
	w.mu.Lock()
	w.spare, w.writing = buf[:0], 0
	if err == nil {
		w.sent = g + 1
	}
	w.failLocked(err)
	w.idle.Broadcast()
}

// writeFD writes a handle envelope with its descriptor on the first
// sendmsg, then any rest of the line, and closes the writer's duplicate
// (own: the descriptor is not lent).
func (w *writer) writeFD(line []byte, fd int, own bool) error {
	if own {
		defer unix.Close(fd)
	}
	_, err := w.write(line, w.flusher.rights(fd))
	return err
}

// write writes b whole, with oob on its first bytes.
func (w *writer) write(b, oob []byte) (int, error) {
	if w.raw == nil {
		n, _, err := w.c.conn.WriteMsgUnix(b, oob, nil)
		if err == nil && n < len(b) {
			var m int
			m, err = w.c.conn.Write(b[n:])
			n += m
		}
		return n, err
	}
	return w.flusher.write(w.raw, b, oob, false)
}

func (w *writer) failLocked(err error) {
	if err == nil || w.err != nil {
		return
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		// The peer closed its end. The read side closes the channel, with
		// the right reason (ErrDisconnected, or Truncated), once it has
		// read what the peer sent before closing; writing stops now.
		w.err = fmt.Errorf("%w (write: %w)", ErrDisconnected, err)
		return
	}
	w.err = fmt.Errorf("ipc: write: %w", err)
	go w.c.fail(w.err)
}

// acked settles the awaited handle with the peer's answer and releases the
// items held behind it, up to the next handle.
func (w *writer) acked(answer error) {
	w.mu.Lock()
	var it *item
	if len(w.awaiting) > 0 {
		it = w.awaiting[0]
		w.awaiting = w.awaiting[1:]
	}
	w.promoteLocked()
	w.kickLocked()
	w.mu.Unlock()
	if it != nil {
		it.done(answer) // after the unlock: done may send
	}
}

// kickLocked gets queued bytes moving without waiting on the socket: it
// writes what is ready with non-blocking writes while the writer is idle,
// so that an ACK, or the handle an ACK released, goes out at once rather
// than after the rest of the read is handled; it leaves what would block
// to a flusher goroutine.
func (w *writer) kickLocked() {
	for !w.flushing && w.err == nil && w.tryLocked() {
	}
	if w.flushing || w.err != nil || (len(w.out) == 0 && w.next == nil) {
		return
	}
	w.flushing = true
	go w.flush()
}

// tryLocked makes one non-blocking write, under w.mu, of out or else of
// the next handle (its descriptor rides on the first bytes that go; the
// rest of its line, if any, is left in out). It reports whether the write
// went through whole, so that there may be more to try.
func (w *writer) tryLocked() bool {
	if len(w.out) > 0 {
		n, err := w.sendNow(w.out, -1)
		w.out = w.out[:copy(w.out, w.out[n:])]
		w.failLocked(err)
		if len(w.out) == 0 && err == nil {
			w.gen++
			w.sent = w.gen
			return true
		}
		return false
	}
	it := w.next
	if it == nil {
		return false
	}
	n, err := w.sendNow(it.line, it.fd)
	if n == 0 {
		w.failLocked(err)
		return false
	}
	it.release()
	w.next, w.awaiting = nil, append(w.awaiting, it)
	w.out = append(w.out, it.line[n:]...)
	w.promoteLocked()
	return n == len(it.line)
}

// sendNow makes one non-blocking sendmsg of b, with fd as SCM_RIGHTS when
// fd >= 0. It returns how much went; a full socket is no error.
func (w *writer) sendNow(b []byte, fd int) (int, error) {
	if w.raw == nil {
		return 0, nil
	}
	var oob []byte
	if fd >= 0 {
		oob = w.now.rights(fd)
	}
	return w.now.write(w.raw, b, oob, true)
}

// drain waits up to d for the bytes already accepted to be written.
func (w *writer) drain(d time.Duration) {
	w.c.conn.SetWriteDeadline(time.Now().Add(d))
	w.mu.Lock()
	for w.flushing && w.err == nil {
		w.idle.Wait()
	}
	w.mu.Unlock()
}

// abort fails every waiting handle with err and frees held descriptors.
func (w *writer) abort(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	pending := append(append([]*item{w.next}, w.awaiting...), w.held...)
	w.next, w.awaiting, w.held, w.out, w.heldSize = nil, nil, nil, nil, 0
	w.idle.Broadcast()
	w.mu.Unlock()
	for _, it := range pending {
		if it != nil {
			it.release()
			if it.done != nil {
				it.done(err)
			}
		}
	}
}

// release closes the item's descriptor if it still has one of its own.
func (it *item) release() {
	if it.fd >= 0 && !it.lent {
		unix.Close(it.fd)
	}
	it.fd = -1
}

// SetHandleWindow lets up to n handles travel before the peer answers the
// first, instead of one at a time, and lets plain messages pass handles
// awaiting their answer. Answers still settle handles in order. Only for a
// peer that reads every descriptor in order, as this package does: Node
// expects one handle at a time, which is the default (n = 1).
func (c *Channel) SetHandleWindow(n int) {
	w := &c.w
	w.mu.Lock()
	w.window = max(n, 1)
	w.promoteLocked()
	w.kickLocked()
	w.mu.Unlock()
}

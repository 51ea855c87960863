package ipc

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// highWater is how many unwritten bytes make Send wait for the socket.
const highWater = 4 << 20

// item is one outgoing line; fd >= 0 marks a handle envelope whose
// descriptor (a duplicate the writer owns) rides on the same sendmsg.
type item struct {
	line []byte
	fd   int
	done chan error // handle items only: the peer's answer, buffered 1
}

// writer serialises writes. Whoever finds it idle becomes the flusher and
// writes until nothing is left, so a lone sender pays no goroutine hop and
// concurrent senders are batched into few syscalls. After a handle is
// written, every later item is held until the peer's ACK or NACK.
type writer struct {
	c        *Channel
	mu       sync.Mutex
	idle     *sync.Cond
	out      []byte  // plain lines ready to write
	spare    []byte  // the other buffer, reused
	next     *item   // a handle to write once out is empty
	awaiting *item   // a handle written and not yet answered
	held     []*item // items queued behind next or awaiting
	flushing bool
	err      error
}

func (w *writer) init(c *Channel) {
	w.c = c
	w.idle = sync.NewCond(&w.mu)
}

// Send encodes v as JSON and queues it. It returns once the message is
// written or queued in order behind a handle awaiting its ACK; an error
// means the message will not be sent (the channel is closed, or v cannot
// be encoded as JSON). v must not be nil-able to nothing: nil is sent as
// null, which Node accepts.
func (c *Channel) Send(v any) error {
	line, err := encode(v)
	if err != nil {
		return err
	}
	return c.w.enqueue(&item{line: line, fd: -1}, true)
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
	it, err := envelope(v, h)
	if err != nil {
		res <- err
		return res
	}
	it.done = res
	if err := c.w.enqueue(it, true); err != nil {
		res <- err
	}
	return res
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
	si, err := inspect(fd)
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
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		it.release()
		return err
	}
	w.place(it)
	if w.flushing {
		for w.flushing && len(w.out) > highWater && w.err == nil {
			w.idle.Wait()
		}
		w.mu.Unlock()
		return nil
	}
	w.flushing = true
	if !inline {
		w.mu.Unlock()
		go w.flushLocked(true)
		return nil
	}
	w.flushLocked(false)
	w.mu.Unlock()
	return nil
}

// place files it under w.mu: behind a pending handle, or ready to write.
func (w *writer) place(it *item) {
	switch {
	case w.next != nil || w.awaiting != nil:
		w.held = append(w.held, it)
	case it.fd >= 0:
		w.next = it
	default:
		w.out = append(w.out, it.line...)
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
	if w.flushing {
		w.mu.Unlock()
		return
	}
	w.flushing = true
	w.mu.Unlock()
	go w.flushLocked(true)
}

// flushLocked writes until nothing is ready. It is entered with w.mu held
// and flushing set (lock=true: entered without the lock, on a goroutine of
// its own), and clears flushing when done.
func (w *writer) flushLocked(lock bool) {
	if lock {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	for w.err == nil {
		if len(w.out) > 0 {
			buf := w.out
			w.out = w.spare[:0]
			w.mu.Unlock()
			_, err := w.c.conn.Write(buf)
			w.mu.Lock()
			w.spare = buf[:0]
			w.failLocked(err)
			w.idle.Broadcast()
			continue
		}
		if w.next == nil {
			break
		}
		it := w.next
		fd := it.fd
		it.fd = -1
		w.next, w.awaiting = nil, it
		w.mu.Unlock()
		err := w.writeFD(it.line, fd)
		w.mu.Lock()
		w.failLocked(err)
	}
	w.flushing = false
	w.idle.Broadcast()
}

// writeFD writes a handle envelope with its descriptor on the first
// sendmsg, then any rest of the line, and closes the writer's duplicate.
func (w *writer) writeFD(line []byte, fd int) error {
	defer unix.Close(fd)
	n, _, err := w.c.conn.WriteMsgUnix(line, unix.UnixRights(fd), nil)
	if err == nil && n < len(line) {
		_, err = w.c.conn.Write(line[n:])
	}
	return err
}

func (w *writer) failLocked(err error) {
	if err == nil || w.err != nil {
		return
	}
	go w.c.fail(fmt.Errorf("ipc: write: %w", err))
	w.err = fmt.Errorf("ipc: write: %w", err)
}

// acked settles the awaited handle with the peer's answer and releases the
// items held behind it, up to the next handle.
func (w *writer) acked(answer error) {
	w.mu.Lock()
	if it := w.awaiting; it != nil {
		w.awaiting = nil
		it.done <- answer
	}
	for len(w.held) > 0 && w.next == nil && w.err == nil {
		it := w.held[0]
		w.held = w.held[1:]
		w.place(it)
	}
	if w.flushing || w.err != nil || (len(w.out) == 0 && w.next == nil) {
		w.mu.Unlock()
		return
	}
	w.flushing = true
	w.mu.Unlock()
	go w.flushLocked(true)
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
	pending := append([]*item{w.next, w.awaiting}, w.held...)
	w.next, w.awaiting, w.held, w.out = nil, nil, nil, nil
	w.idle.Broadcast()
	w.mu.Unlock()
	for _, it := range pending {
		if it != nil {
			it.release()
			if it.done != nil {
				it.done <- err
			}
		}
	}
}

// release closes the item's descriptor if it still has one.
func (it *item) release() {
	if it.fd >= 0 {
		unix.Close(it.fd)
		it.fd = -1
	}
}

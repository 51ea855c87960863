package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	readChunk = 64 << 10 // the first read buffer, as Node's
	maxFDs    = 16       // descriptors one read may carry before it counts as abuse
)

var (
	lineACK  = []byte(`{"cmd":"NODE_HANDLE_ACK"}` + "\n")
	lineNACK = []byte(`{"cmd":"NODE_HANDLE_NACK"}` + "\n")
)

// reader is the state of the read goroutine.
type reader struct {
	c     *Channel
	buf   []byte
	start int   // first unparsed byte
	end   int   // end of data
	clean int   // how many bytes from start hold no newline (a long line is scanned once)
	fds   []int // received descriptors not yet claimed by an envelope
	raw   rawReader

	batch []*Message // user messages of this read, not yet handed to Recv
	slab  []byte     // room for copies of small messages
	msgs  []Message  // room for small messages
}

// Small messages are copied into shared slabs, so that the read
// goroutine allocates once per many messages; a message kept alive keeps
// at most its slab alive (slabBytes, or slabMsgs Message structs).
const (
	slabBytes = 4 << 10
	slabMax   = 512 // longest message copied into a slab
	slabMsgs  = 16
)

func (c *Channel) readLoop() {
	r := &reader{c: c, buf: make([]byte, readChunk)}
	err := r.run()
	for _, fd := range r.fds {
		unix.Close(fd)
	}
	var pe *ProtocolError
	if errors.As(err, &pe) && c.record(err) {
		// Bad input: let the answers already queued (the NACK for an
		// envelope without a descriptor, an ACK) reach the peer before
		// the socket closes.
		c.w.drain(closeFlushTimeout)
		c.release(err)
	}
	c.fail(err)
	c.in.close()
	c.dropUnread()
	close(c.readDone)
}

func (r *reader) run() error {
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	for {
		if err := r.makeRoom(); err != nil {
			return err
		}
		n, oobn, flags, err := r.read(oob)
		if oobn > 0 {
			if ferr := r.takeFDs(oob[:oobn], flags); ferr != nil {
				return ferr
			}
		}
		r.end += max(n, 0)
		if perr := r.lines(); perr != nil {
			return perr
		}
		r.shrink()
		if err != nil || n == 0 {
			return r.eof(err)
		}
	}
}

// read makes one read into the free end of buf and oob.
func (r *reader) read(oob []byte) (n, oobn, flags int, err error) {
	if r.c.w.raw == nil {
		n, oobn, flags, _, err = r.c.conn.ReadMsgUnix(r.buf[r.end:], oob)
		return n, oobn, flags, err
	}
	return r.raw.read(r.c.w.raw, r.buf[r.end:], oob)
}

// eof turns the end of the stream into the right error. ECONNRESET is an
// end of stream too: Linux reports it, once every byte sent to us has been
// read, when the peer closed with input it had not read (a child that
// exits without reading its last messages); Node treats it as disconnect.
func (r *reader) eof(err error) error {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		if errors.Is(err, net.ErrClosed) {
			return ErrClosed
		}
		return err
	}
	if r.end > r.start {
		return protoErr(Truncated, excerpt(r.buf[r.start:r.end]), nil)
	}
	return ErrDisconnected
}

// makeRoom ensures free space at the end of buf, moving or growing it.
func (r *reader) makeRoom() error {
	if r.end < len(r.buf) {
		return nil
	}
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
		return nil
	}
	if len(r.buf) > r.c.max {
		return protoErr(TooLarge, excerpt(r.buf), nil)
	}
	grown := make([]byte, min(2*len(r.buf), r.c.max+2))
	r.end = copy(grown, r.buf[:r.end])
	r.buf = grown
	return nil
}

// shrink goes back to a first-size buffer once a long line is handled,
// so that one long message (or an attack on the size limit) does not keep
// its buffer for the channel's life.
func (r *reader) shrink() {
	if len(r.buf) <= readChunk || r.end-r.start > readChunk/2 {
		return
	}
	small := make([]byte, readChunk)
	r.end = copy(small, r.buf[r.start:r.end])
	r.start, r.buf = 0, small
}

// takeFDs collects descriptors from ancillary data.
func (r *reader) takeFDs(oob []byte, flags int) error {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return protoErr(TooManyFDs, "unparsable ancillary data", err)
	}
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		r.fds = append(r.fds, fds...)
	}
	if flags&unix.MSG_CTRUNC != 0 || len(r.fds) > maxFDs {
		return protoErr(TooManyFDs, "ancillary data truncated or over the limit", nil)
	}
	return nil
}

// lines handles every complete line in the buffer, then hands the user
// messages among them to Recv.
func (r *reader) lines() error {
	err := r.parseLines()
	if ferr := r.flush(); err == nil {
		err = ferr
	}
	return err
}

// parseLines handles every complete line in the buffer.
func (r *reader) parseLines() error {
	for {
		data := r.buf[r.start:r.end]
		i := bytes.IndexByte(data[r.clean:], '\n')
		if i < 0 {
			r.clean = len(data)
			break
		}
		i += r.clean
		r.clean = 0
		if i > r.c.max {
			return protoErr(TooLarge, excerpt(data[:i]), nil)
		}
		r.start += i + 1
		if err := r.line(data[:i]); err != nil {
			return err
		}
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.fds) > 0 {
			return protoErr(StrayFD, "", nil)
		}
	}
	if r.end-r.start > r.c.max {
		return protoErr(TooLarge, excerpt(r.buf[r.start:r.end]), nil)
	}
	return nil
}

// line handles one line (without its newline).
func (r *reader) line(line []byte) error {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.Equal(line, lineACK[:len(lineACK)-1]) { // one per handle: no need to parse it
		r.c.w.acked(nil)
		return nil
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return protoErr(BlankLine, "", nil)
	}
	if !validJSON(line) {
		return protoErr(Malformed, excerpt(line), nil)
	}
	switch cmd := internalCmd(line); cmd {
	case "":
		m := r.newMessage()
		m.Data = r.keep(line)
		return r.deliver(m)
	case "NODE_HANDLE":
		return r.handle(line)
	case "NODE_HANDLE_ACK":
		r.c.w.acked(nil)
	case "NODE_HANDLE_NACK":
		r.c.w.acked(ErrHandleRejected)
	case "NODE_SOCKET_NOTIFY_CLOSE", "NODE_SOCKET_GET_COUNT":
		r.socketList(cmd, line)
	default:
		m := r.newMessage()
		m.Data, m.Cmd = r.keep(line), cmd
		r.internal(m)
	}
	return nil
}

// handle takes the next descriptor for a NODE_HANDLE envelope, answers,
// and passes the message on with its handle restored.
func (r *reader) handle(line []byte) error {
	var env struct {
		Type string          `json:"type"`
		Msg  json.RawMessage `json:"msg"`
	}
	if err := json.Unmarshal(line, &env); err != nil {
		return protoErr(Malformed, excerpt(line), err)
	}
	if len(r.fds) == 0 {
		r.c.w.answer(lineNACK)
		return protoErr(MissingFD, excerpt(line), nil)
	}
	fd := r.fds[0]
	r.fds = r.fds[1:]
	if !r.ack() {
		unix.Close(fd)
		return nil
	}
	typ, msg := unwrap(env.Type, env.Msg)
	h, err := fromFD(fd, typ)
	if err != nil {
		return protoErr(BadHandle, typ, err)
	}
	m := &Message{Data: r.keep(msg), Handle: h, HandleType: typ, Cmd: internalCmd(msg)}
	if m.Cmd != "" {
		r.internal(m)
		return nil
	}
	return r.deliver(m)
}

// ack answers a handle's envelope, and reports whether the handle may be
// passed on: with Options.AckBeforeDeliver, only once the ACK is written.
func (r *reader) ack() bool {
	if !r.c.ackFirst {
		r.c.w.answer(lineACK)
		return true
	}
	return r.c.w.answerWritten(lineACK) == nil
}

// unwrap undoes Node's retransmission quirk: a NODE_HANDLE whose message
// is itself a NODE_HANDLE envelope. It also maps a missing msg to null.
func unwrap(typ string, msg json.RawMessage) (string, json.RawMessage) {
	for depth := 0; depth < 4 && internalCmd(msg) == "NODE_HANDLE"; depth++ {
		var inner struct {
			Type string          `json:"type"`
			Msg  json.RawMessage `json:"msg"`
		}
		if json.Unmarshal(msg, &inner) != nil {
			break
		}
		typ, msg = inner.Type, inner.Msg
	}
	if len(msg) == 0 {
		msg = json.RawMessage("null")
	}
	return typ, msg
}

// socketList answers Node's socket-list side protocol. A Go receiver does
// not track the sockets it was given, so it reports none open.
func (r *reader) socketList(cmd string, line []byte) {
	var q struct {
		Key json.RawMessage `json:"key"`
	}
	json.Unmarshal(line, &q)
	if len(q.Key) == 0 {
		q.Key = json.RawMessage("null")
	}
	var b []byte
	if cmd == "NODE_SOCKET_NOTIFY_CLOSE" {
		b = []byte(`{"cmd":"NODE_SOCKET_ALL_CLOSED","key":` + string(q.Key) + "}\n")
	} else {
		b = []byte(`{"cmd":"NODE_SOCKET_COUNT","key":` + string(q.Key) + `,"count":0}` + "\n")
	}
	r.c.w.answer(b)
}

// deliver queues a user message for Recv; lines hands them over after
// each read, and deliver as soon as RecvBuffer of them are queued.
func (r *reader) deliver(m *Message) error {
	r.batch = append(r.batch, m)
	if len(r.batch) >= r.c.in.limit {
		return r.flush()
	}
	return nil
}

// flush hands the queued user messages to Recv, waiting while RecvBuffer
// messages wait there. When the channel closes first, it closes their
// handles and returns ErrClosed.
func (r *reader) flush() error {
	left := r.c.in.put(r.batch, r.c.done)
	for _, m := range left {
		m.CloseHandle()
	}
	clear(r.batch)
	r.batch = r.batch[:0]
	if len(left) > 0 {
		return ErrClosed
	}
	return nil
}

// newMessage returns a zero Message, from a slab.
func (r *reader) newMessage() *Message {
	if len(r.msgs) == 0 {
		r.msgs = make([]Message, slabMsgs)
	}
	m := &r.msgs[0]
	r.msgs = r.msgs[1:]
	return m
}

// keep returns a copy of b, carved from a slab if b is small.
func (r *reader) keep(b []byte) []byte {
	if len(b) > slabMax {
		return bytes.Clone(b)
	}
	if len(r.slab) < len(b) {
		r.slab = make([]byte, slabBytes)
	}
	out := r.slab[:len(b):len(b)]
	copy(out, b)
	r.slab = r.slab[len(b):]
	return out
}

func (r *reader) internal(m *Message) {
	if r.c.internal == nil {
		m.CloseHandle()
		return
	}
	r.c.inHandler.Add(1)
	defer r.c.inHandler.Add(-1)
	r.c.internal(m)
}

package statewire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is a 4-byte little-endian length, then that many bytes: a type
// byte and the fields. Integers are varints (encoding/binary's Uvarint,
// and Varint for signed ones); byte strings are a Uvarint length and the
// bytes; a list is a Uvarint count and its items.
//
//	request: op, ID, Key, Val, Old, flags (1: NoOld, 2: NoVal), TTL, N (signed), Sub, Chans
//	reply:   'r', ID, Code, OK (0 or 1), N (signed), Val, Msg, Keys
//	message: 'm', Sub, Seq, Ch, Val
//	change:  'e', Sub, Seq, Ev, Key, Val
//	bye:     'x', Code, Msg

// ErrFrame is a frame that does not parse.
var ErrFrame = errors.New("statewire: bad frame")

// begin starts a frame in dst: room for the length, and the type byte.
func begin(dst []byte, typ byte) ([]byte, int) {
	start := len(dst)
	return append(dst, 0, 0, 0, 0, typ), start
}

// end writes the frame's length.
func end(dst []byte, start int) []byte {
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendRequest appends r's frame to dst.
func AppendRequest(dst []byte, r *Request) []byte {
	dst, start := begin(dst, r.Op)
	dst = binary.AppendUvarint(dst, r.ID)
	dst = appendStr(dst, r.Key)
	dst = appendBytes(dst, r.Val)
	dst = appendBytes(dst, r.Old)
	var flags byte
	if r.NoOld {
		flags |= 1
	}
	if r.NoVal {
		flags |= 2
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, r.TTL)
	dst = binary.AppendVarint(dst, r.N)
	dst = binary.AppendUvarint(dst, r.Sub)
	dst = binary.AppendUvarint(dst, uint64(len(r.Chans)))
	for _, c := range r.Chans {
		dst = appendStr(dst, c)
	}
	return end(dst, start)
}

// AppendReply appends the frame of reply r (its Type is ignored).
func AppendReply(dst []byte, r *Response) []byte {
	dst, start := begin(dst, TypeReply)
	dst = binary.AppendUvarint(dst, r.ID)
	dst = append(dst, r.Code)
	if r.OK {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendVarint(dst, r.N)
	dst = appendBytes(dst, r.Val)
	dst = appendStr(dst, r.Msg)
	dst = binary.AppendUvarint(dst, uint64(len(r.Keys)))
	for _, k := range r.Keys {
		dst = appendStr(dst, k)
	}
	return end(dst, start)
}

// PushBody is the part of a push that is the same for every subscriber:
// a message's channel and payload (typ TypeMessage), or a change's event,
// key and value (TypeChange). AppendPush completes it.
func PushBody(typ byte, ev byte, name string, val []byte) []byte {
	dst := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(name)+len(val))
	dst = append(dst, typ)
	if typ == TypeChange {
		dst = append(dst, ev)
	}
	dst = appendStr(dst, name)
	return appendBytes(dst, val)
}

// AppendPush appends the frame of a push to subscription sub, numbered
// seq, with body from PushBody.
func AppendPush(dst []byte, sub, seq uint64, body []byte) []byte {
	return append(AppendPushHead(dst, sub, seq, body), body[1:]...)
}

// AppendPushHead appends the start of AppendPush's frame, up to the
// fields of body: the frame is that, then body[1:], which a writer may
// send without copying it (one body for many subscribers).
func AppendPushHead(dst []byte, sub, seq uint64, body []byte) []byte {
	dst, start := begin(dst, body[0])
	dst = binary.AppendUvarint(dst, sub)
	dst = binary.AppendUvarint(dst, seq)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+len(body)-1))
	return dst
}

// AppendBye appends a bye frame: the broker drops the connection, with
// code and msg saying why.
func AppendBye(dst []byte, code byte, msg string) []byte {
	dst, start := begin(dst, TypeBye)
	dst = append(dst, code)
	dst = appendStr(dst, msg)
	return end(dst, start)
}

// Reader reads frames from a stream, through a buffer of its own. A
// read that fails (an interrupted one, say) loses nothing: the next call
// to Next resumes where it stopped.
type Reader struct {
	rd   io.Reader
	max  uint32 // the longest frame accepted
	size int    // the buffer's usual size
	buf  []byte // buf[r:w] is read but not yet returned
	r, w int
}

// NewReader returns a Reader of rd with a buffer of size bytes, which
// grows for a larger frame.
func NewReader(rd io.Reader, size int) *Reader {
	return &Reader{rd: rd, max: MaxFrame, size: size, buf: make([]byte, size)}
}

// Limit makes frames longer than max (at most MaxFrame) protocol errors:
// the buffer never grows past it.
func (fr *Reader) Limit(max int) {
	fr.max = uint32(min(max, MaxFrame))
}

// Buffered is how many bytes were read and not yet returned by Next.
func (fr *Reader) Buffered() int { return fr.w - fr.r }

// Ready reports whether Next would return without reading: a whole frame
// (or a bad length) is buffered.
func (fr *Reader) Ready() bool {
	if fr.w-fr.r < 4 {
		return false
	}
	n := binary.LittleEndian.Uint32(fr.buf[fr.r:])
	return n == 0 || n > fr.max || fr.w-fr.r-4 >= int(n)
}

// Next returns the next frame's body (its type byte and fields), reading
// as needed. The body is valid until the next call.
func (fr *Reader) Next() ([]byte, error) {
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
		if len(fr.buf) > fr.size {
			fr.buf = make([]byte, fr.size) // a large frame grew it
		}
	}
	for {
		need := 4
		if fr.w-fr.r >= 4 {
			n := binary.LittleEndian.Uint32(fr.buf[fr.r:])
			if n == 0 || n > fr.max {
				return nil, fmt.Errorf("%w: length %d", ErrFrame, n)
			}
			if end := fr.r + 4 + int(n); end <= fr.w {
				body := fr.buf[fr.r+4 : end]
				fr.r = end
				return body, nil
			}
			need += int(n)
		}
		fr.room(need)
		m, err := fr.rd.Read(fr.buf[fr.w:])
		fr.w += m
		if err != nil && m == 0 {
			if err == io.EOF && fr.w > fr.r {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// room makes the buffer hold need bytes from the unread ones on, moving
// them to its start or growing it.
func (fr *Reader) room(need int) {
	if fr.r+need <= len(fr.buf) {
		return
	}
	buf := fr.buf
	if need > len(buf) {
		buf = make([]byte, need)
	}
	fr.w = copy(buf, fr.buf[fr.r:fr.w])
	fr.r, fr.buf = 0, buf
}

// parser reads fields; the first failure sticks.
type parser struct {
	b   []byte
	bad bool
}

func (p *parser) uvarint() uint64 {
	v, n := binary.Uvarint(p.b)
	if n <= 0 {
		p.bad, p.b = true, nil
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) varint() int64 {
	v, n := binary.Varint(p.b)
	if n <= 0 {
		p.bad, p.b = true, nil
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *parser) byte1() byte {
	if len(p.b) == 0 {
		p.bad = true
		return 0
	}
	v := p.b[0]
	p.b = p.b[1:]
	return v
}

// raw returns a byte string, aliasing the frame.
func (p *parser) raw() []byte {
	n := p.uvarint()
	if n > uint64(len(p.b)) {
		p.bad, p.b = true, nil
		return nil
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v
}

// bytes returns a copy of a byte string; nil when empty.
func (p *parser) bytes() []byte {
	v := p.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (p *parser) str() string { return string(p.raw()) }

// strs reads a list of byte strings, refusing counts the frame cannot hold.
func (p *parser) strs() []string {
	n := p.uvarint()
	if n > uint64(len(p.b)) {
		p.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n && !p.bad; i++ {
		out = append(out, p.str())
	}
	return out
}

func (p *parser) done() error {
	if p.bad || len(p.b) != 0 {
		return ErrFrame
	}
	return nil
}

// ParseRequest parses a request frame's body. Its byte strings are
// copies: r may keep them.
func ParseRequest(body []byte, r *Request) error {
	if len(body) == 0 {
		return ErrFrame
	}
	p := parser{b: body[1:]}
	r.Op = body[0]
	r.ID = p.uvarint()
	r.Key = p.str()
	r.Val = p.bytes()
	r.Old = p.bytes()
	flags := p.byte1()
	r.NoOld, r.NoVal = flags&1 != 0, flags&2 != 0
	r.TTL = p.uvarint()
	r.N = p.varint()
	r.Sub = p.uvarint()
	r.Chans = p.strs()
	return p.done()
}

// ParseResponse parses a frame from the broker. Its byte strings are
// copies.
func ParseResponse(body []byte, r *Response) error {
	if len(body) == 0 {
		return ErrFrame
	}
	p := parser{b: body[1:]}
	r.Type = body[0]
	switch r.Type {
	case TypeReply:
		r.ID = p.uvarint()
		r.Code = p.byte1()
		r.OK = p.byte1() == 1
		r.N = p.varint()
		r.Val = p.bytes()
		r.Msg = p.str()
		r.Keys = p.strs()
	case TypeMessage:
		r.Sub, r.Seq = p.uvarint(), p.uvarint()
		r.Ch = p.str()
		r.Val = p.bytes()
	case TypeChange:
		r.Sub, r.Seq = p.uvarint(), p.uvarint()
		r.Ev = p.byte1()
		r.Key = p.str()
		r.Val = p.bytes()
	case TypeBye:
		r.Code = p.byte1()
		r.Msg = p.str()
	default:
		return ErrFrame
	}
	return p.done()
}

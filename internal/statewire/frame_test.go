package statewire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Op: OpGet, ID: 1, Key: "k"},
		{Op: OpSet, ID: 1 << 40, Key: "ключ", Val: []byte{0, 1, 2, '\n'}, TTL: 1500},
		{Op: OpIncr, ID: 3, Key: "n", N: -1 << 62},
		{Op: OpCAS, ID: 4, Key: "k", Old: []byte("a"), NoVal: true},
		{Op: OpCAS, ID: 5, Key: "k", NoOld: true, Val: []byte("b")},
		{Op: OpSub, ID: 6, Sub: 9, Chans: []string{"a", "", "c"}},
	} {
		frame := AppendRequest([]byte("junk"), &r)[4:]
		body, err := NewReader(bytes.NewReader(frame), 16).Next()
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := ParseRequest(body, &got); err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("%+v came back as %+v (%v)", r, got, err)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	reply := Response{Type: TypeReply, ID: 7, Code: CodeFull, Msg: "full", OK: true, N: -5, Val: []byte("v"), Keys: []string{"a", "b"}}
	var got Response
	if err := ParseResponse(AppendReply(nil, &reply)[4:], &got); err != nil || !reflect.DeepEqual(got, reply) {
		t.Fatalf("reply %+v came back as %+v (%v)", reply, got, err)
	}
	msg := Response{Type: TypeMessage, Sub: 3, Seq: 9, Ch: "chat", Val: []byte("hi")}
	got = Response{}
	if err := ParseResponse(AppendPush(nil, 3, 9, PushBody(TypeMessage, 0, "chat", []byte("hi")))[4:], &got); err != nil || !reflect.DeepEqual(got, msg) {
		t.Fatalf("message %+v came back as %+v (%v)", msg, got, err)
	}
	change := Response{Type: TypeChange, Sub: 4, Seq: 1, Ev: EvDel, Key: "k"}
	got = Response{}
	if err := ParseResponse(AppendPush(nil, 4, 1, PushBody(TypeChange, EvDel, "k", nil))[4:], &got); err != nil || !reflect.DeepEqual(got, change) {
		t.Fatalf("change %+v came back as %+v (%v)", change, got, err)
	}
}

func TestBadFrames(t *testing.T) {
	good := AppendRequest(nil, &Request{Op: OpSet, ID: 1, Key: "key", Val: []byte("value")})[4:]
	for i := 0; i < len(good); i++ {
		var r Request
		if ParseRequest(good[:i], &r) == nil {
			t.Fatalf("a request cut to %d bytes parsed", i)
		}
	}
	if ParseRequest(append(good[:len(good):len(good)], 0), new(Request)) == nil {
		t.Fatal("a request with a trailing byte parsed")
	}
	for _, head := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}} {
		if _, err := NewReader(bytes.NewReader(head), 16).Next(); err == nil {
			t.Fatalf("length %v accepted", head)
		}
	}
}

// trickle hands out its bytes a few at a time, failing every other read
// with errAgain, as a socket past its read deadline does.
type trickle struct {
	b    []byte
	fail bool
}

var errAgain = errors.New("again")

func (t *trickle) Read(p []byte) (int, error) {
	if t.fail = !t.fail; t.fail {
		return 0, errAgain
	}
	if len(t.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], t.b)
	t.b = t.b[n:]
	return n, nil
}

// TestReaderResumes: frames cut anywhere by reads, and reads that fail
// in the middle of a frame, come out whole; a frame larger than the
// buffer grows it.
func TestReaderResumes(t *testing.T) {
	var stream []byte
	var want []Request
	for i := range 20 {
		r := Request{Op: OpSet, ID: uint64(i + 1), Key: "k", Val: bytes.Repeat([]byte{byte(i)}, i*i)}
		stream = AppendRequest(stream, &r)
		want = append(want, r)
	}
	fr := NewReader(&trickle{b: stream}, 16)
	for _, w := range want {
		var body []byte
		var err error
		for body, err = fr.Next(); errors.Is(err, errAgain); body, err = fr.Next() {
		}
		var got Request
		if err == nil {
			err = ParseRequest(body, &got)
		}
		if err != nil || got.ID != w.ID || !bytes.Equal(got.Val, w.Val) {
			t.Fatalf("frame %d came back as %+v (%v)", w.ID, got, err)
		}
	}
	err := errAgain
	for errors.Is(err, errAgain) {
		_, err = fr.Next()
	}
	if err != io.EOF || fr.Buffered() != 0 {
		t.Fatalf("at the end: %v, %d bytes buffered", err, fr.Buffered())
	}
	fr = NewReader(&trickle{b: stream[:len(stream)-1]}, 16)
	for err = nil; err == nil || errors.Is(err, errAgain); _, err = fr.Next() {
	}
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("a stream cut in a frame: %v", err)
	}
}

// TestReaderReady: Ready tells whether a whole frame is buffered.
func TestReaderReady(t *testing.T) {
	two := AppendRequest(AppendRequest(nil, &Request{Op: OpGet, ID: 1, Key: "a"}), &Request{Op: OpGet, ID: 2, Key: "b"})
	fr := NewReader(bytes.NewReader(two[:len(two)-1]), 1024)
	if fr.Ready() {
		t.Fatal("ready before any read")
	}
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if fr.Ready() || fr.Buffered() == 0 {
		t.Fatalf("ready with part of a frame (%d bytes) buffered", fr.Buffered())
	}
	fr = NewReader(bytes.NewReader(two), 1024)
	fr.Next()
	if !fr.Ready() {
		t.Fatal("not ready with a whole frame buffered")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(AppendRequest(nil, &Request{Op: OpSub, ID: 1, Sub: 2, Chans: []string{"a"}})[4:])
	f.Add(AppendReply(nil, &Response{ID: 1, Keys: []string{"k"}})[4:])
	f.Fuzz(func(t *testing.T, body []byte) {
		ParseRequest(body, new(Request))
		ParseResponse(body, new(Response))
	})
}

package statewire

import (
	"bufio"
	"bytes"
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
		body, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), nil)
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
		if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(head)), nil); err == nil {
			t.Fatalf("length %v accepted", head)
		}
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

package ipc_test

import (
	"net"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

// internalPair is rawPair whose internal messages are collected.
func internalPair(t *testing.T) (*ipc.Channel, *rawPeer, <-chan *ipc.Message) {
	t.Helper()
	got := make(chan *ipc.Message, 64)
	ch, p := rawPair(t, &ipc.Options{Internal: func(m *ipc.Message) { got <- m }})
	return ch, p, got
}

func nextInternal(t *testing.T, got <-chan *ipc.Message) *ipc.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(liveness):
		t.Fatal("no internal message")
		return nil
	}
}

func TestInternalMessages(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p, internal := internalPair(t)
	lines := []struct {
		line string
		cmd  string // "" for a user message
	}{
		{`{"cmd":"NODE_X"}`, "NODE_X"},
		{`{"cmd":"NODE_"}`, ""},
		{`{"cmd":"node_x"}`, ""},
		{`{"\u0063md":"NODE_ESCAPED_KEY"}`, "NODE_ESCAPED_KEY"},
		{`{"cmd":"NODE\u005fESCAPED_VALUE"}`, "NODE_ESCAPED_VALUE"},
		{` { "a" : 1, "cmd" : "NODE_SPACED" }`, "NODE_SPACED"},
		{`{"a":{"cmd":"NODE_NESTED"}}`, ""},
		{`{"cmd":"NODE_CUSTOM","data":[1,2]}`, "NODE_CUSTOM"},
		{`{"cmd":1}`, ""},
		{`["NODE_ARRAY"]`, ""},
		{`"NODE_STRING"`, ""},
		{`{"cmd":"NODE_😀"}`, "NODE_😀"},
	}
	for _, l := range lines {
		p.write(l.line + "\n")
	}
	for _, l := range lines {
		if l.cmd == "" {
			if m := recvMsg(t, ch); string(m.Data) != l.line || m.Cmd != "" {
				t.Fatalf("user message %q came as %q (cmd %q)", l.line, m.Data, m.Cmd)
			}
			continue
		}
		if m := nextInternal(t, internal); m.Cmd != l.cmd || string(m.Data) != l.line {
			t.Fatalf("internal message %q came as %q (cmd %q)", l.line, m.Data, m.Cmd)
		}
	}
	select {
	case m := <-internal:
		t.Fatalf("unexpected internal message %q", m.Data)
	default:
	}
}

func TestSocketListAnswered(t *testing.T) {
	testutil.CheckFDs(t)
	_, p, internal := internalPair(t)
	p.write(`{"cmd":"NODE_SOCKET_GET_COUNT","key":"4:127.0.0.1:3000"}` + "\n")
	p.expectLine(`{"cmd":"NODE_SOCKET_COUNT","key":"4:127.0.0.1:3000","count":0}`)
	p.write(`{"cmd":"NODE_SOCKET_NOTIFY_CLOSE","key":"k"}` + "\n")
	p.expectLine(`{"cmd":"NODE_SOCKET_ALL_CLOSED","key":"k"}`)
	if len(internal) != 0 {
		t.Fatal("socket-list messages reached Options.Internal")
	}
}

func TestInternalMessageWithHandle(t *testing.T) {
	testutil.CheckFDs(t)
	_, p, internal := internalPair(t)
	pair := socketPairFDs(t)
	p.write(`{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_CLUSTER","act":"newconn"}}`+"\n", pair[0])
	p.expectLine(`{"cmd":"NODE_HANDLE_ACK"}`)
	m := nextInternal(t, internal)
	defer m.CloseHandle()
	if _, ok := m.Handle.(net.Conn); !ok || m.Cmd != "NODE_CLUSTER" || m.HandleType != ipc.TypeNative {
		t.Fatalf("got cmd %q, type %q, handle %T", m.Cmd, m.HandleType, m.Handle)
	}
}

func TestInternalDroppedWithoutCallback(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	pair := socketPairFDs(t)
	p.write(`{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_CLUSTER"}}`+"\n", pair[0])
	p.write(`{"cmd":"NODE_OTHER"}` + "\n" + `"user"` + "\n")
	p.expectLine(`{"cmd":"NODE_HANDLE_ACK"}`)
	if m := recvMsg(t, ch); string(m.Data) != `"user"` {
		t.Fatalf("got %s, want the user message", m.Data)
	}
	// CheckFDs proves the dropped handle was closed.
}

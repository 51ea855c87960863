package ipc_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

const smallMax = 1 << 10 // Options.MaxMessageSize of the bad-input tests

// badInput is bytes (and descriptors) a peer writes, the error the channel
// must close with, and what it must still answer before closing.
type badInput struct {
	name    string
	write   func(t *testing.T, p *rawPeer)
	kind    ipc.Kind // 0: ErrDisconnected
	answers string   // lines the channel writes back before closing
	closes  bool     // write closes the peer's end
}

var badInputs = []badInput{
	{name: "garbage", write: writes("garbage\n"), kind: ipc.Malformed},
	{name: "binary", write: writes("\x00\xff\xfe{\n"), kind: ipc.Malformed},
	{name: "partial JSON", write: writes(`{"a":1` + "\n"), kind: ipc.Malformed},
	{name: "two values", write: writes("1 2\n"), kind: ipc.Malformed},
	{name: "blank line", write: writes("\n"), kind: ipc.BlankLine},
	{name: "CRLF alone", write: writes("\r\n"), kind: ipc.BlankLine},
	{name: "spaces", write: writes(" \t \n"), kind: ipc.BlankLine},
	{name: "blank after a message", write: writes("1\n\n"), kind: ipc.BlankLine},
	{name: "line over the limit", write: writes(`"` + strings.Repeat("a", smallMax) + "\"\n"), kind: ipc.TooLarge},
	{name: "endless line", write: writeEndless, kind: ipc.TooLarge},
	{name: "fd without envelope", write: writeFDs(`{"plain":1}`+"\n", 1), kind: ipc.StrayFD},
	{name: "fds without envelope", write: writeFDs(`{"plain":1}`+"\n", 3), kind: ipc.StrayFD},
	{name: "envelope without fd", write: writes(envelope("net.Socket")), kind: ipc.MissingFD,
		answers: `{"cmd":"NODE_HANDLE_NACK"}` + "\n"},
	{name: "type does not match the fd", write: writeFDs(envelope("dgram.Socket"), 1), kind: ipc.BadHandle,
		answers: `{"cmd":"NODE_HANDLE_ACK"}` + "\n"},
	{name: "unknown type", write: writeFDs(envelope("net.Pipe"), 1), kind: ipc.BadHandle,
		answers: `{"cmd":"NODE_HANDLE_ACK"}` + "\n"},
	{name: "envelope with a bad type field", write: writeFDs(`{"cmd":"NODE_HANDLE","type":7}`+"\n", 1), kind: ipc.Malformed},
	{name: "17 fds in one sendmsg", write: writeFDs(envelope("net.Socket"), 17), kind: ipc.TooManyFDs},
	{name: "fds piling up", write: writeFDsSplit(envelope("net.Socket"), 17), kind: ipc.TooManyFDs},
	{name: "close mid-message", write: closeAfterWriting(`{"a":`), kind: ipc.Truncated, closes: true},
	{name: "close mid-line after messages", write: closeAfterWriting("1\n2\n3"), kind: ipc.Truncated, closes: true},
	{name: "close at a boundary", write: closeAfterWriting("1\n2\n"), kind: 0, closes: true},
}

func envelope(typ string) string {
	return `{"cmd":"NODE_HANDLE","type":"` + typ + `","msg":{"x":1}}` + "\n"
}

func writes(s string) func(*testing.T, *rawPeer) {
	return func(_ *testing.T, p *rawPeer) { p.write(s) }
}

// writeFDs writes s with n descriptors (of a connected socket) attached.
func writeFDs(s string, n int) func(*testing.T, *rawPeer) {
	return func(t *testing.T, p *rawPeer) { p.write(s, sameFDs(t, n)...) }
}

// writeFDsSplit writes s one byte per sendmsg, each with a descriptor, so
// that the descriptors arrive before any envelope is complete.
func writeFDsSplit(s string, n int) func(*testing.T, *rawPeer) {
	return func(t *testing.T, p *rawPeer) {
		fd := socketPairFDs(t)[0]
		for i := range n {
			p.write(s[i:i+1], fd)
		}
	}
}

func closeAfterWriting(s string) func(*testing.T, *rawPeer) {
	return func(_ *testing.T, p *rawPeer) {
		p.write(s)
		p.conn.Close()
	}
}

// writeEndless writes a line with no newline until the channel gives up
// on it (its end closes, so a write fails), or 64 MiB.
func writeEndless(_ *testing.T, p *rawPeer) {
	chunk := []byte(`"` + strings.Repeat("a", 64<<10-1))
	for range 1024 {
		if _, err := p.conn.Write(chunk); err != nil {
			return
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, bi := range badInputs {
		t.Run(bi.name, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			testutil.CheckFDs(t)
			ch, p := rawPair(t, &ipc.Options{MaxMessageSize: smallMax})
			bi.write(t, p)
			err := recvErr(t, ch)
			checkClosedWith(t, ch, err, bi.kind)
			if bi.closes {
				return
			}
			if got := p.expectEOF(); got != bi.answers {
				t.Fatalf("the channel wrote %q before closing, want %q", got, bi.answers)
			}
		})
	}
}

// checkClosedWith checks that err, the channel's end, is a ProtocolError of
// the given kind (0: ErrDisconnected) and that the channel is closed.
func checkClosedWith(t *testing.T, ch *ipc.Channel, err error, kind ipc.Kind) {
	t.Helper()
	waitClosed(t, ch)
	if kind == 0 {
		if !errors.Is(err, ipc.ErrDisconnected) {
			t.Fatalf("got %v, want ErrDisconnected", err)
		}
		return
	}
	var pe *ipc.ProtocolError
	if !errors.As(err, &pe) || pe.Kind != kind {
		t.Fatalf("got %#v (%v), want a ProtocolError of kind %v", err, err, kind)
	}
	if !strings.Contains(pe.Error(), kind.String()) {
		t.Errorf("the error %q does not name its kind", pe.Error())
	}
	if ch.Err() != err {
		t.Errorf("Err() = %v, want %v", ch.Err(), err)
	}
	if serr := ch.Send(1); serr == nil {
		t.Error("Send on a channel closed by bad input succeeded")
	}
}

// helperGarbage writes garbage straight to its channel's socket, then
// waits for the parent to close it.
func helperGarbage() {
	f := os.NewFile(3, "channel")
	if os.Getenv(ipc.EnvChannelFD) != "3" {
		os.Exit(3)
	}
	f.WriteString("this is not JSON\n")
	buf := make([]byte, 4096)
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
	}
}

func TestChildWritesGarbage(t *testing.T) {
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	c := spawn(t, "ipc-garbage")
	err := recvErr(t, c.Channel())
	checkClosedWith(t, c.Channel(), err, ipc.Malformed)
	var kinds []string
	for ev := range c.Events() {
		kinds = append(kinds, ev.Kind.String())
	}
	if got := strings.Join(kinds, ","); got != "error,disconnect,exit" {
		t.Fatalf("events %s, want error,disconnect,exit", got)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("the child did not exit cleanly once disconnected: %v", err)
	}
	// This process is fine: a new child works.
	ch := spawnChannel(t, "ipc-echo")
	mustSend(t, ch, "still fine")
	if s := recvInto[string](t, ch); s != "still fine" {
		t.Fatalf("got %q", s)
	}
}

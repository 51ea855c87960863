package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

// sockHandle is one end of a new socket pair (closed when the test ends)
// as a net.Socket handle.
func sockHandle(t testing.TB) ipc.Handle {
	return ipc.Handle{Type: ipc.TypeSocket, FD: socketPairFDs(t)[0]}
}

// expectEnvelope reads the next line the channel wrote and fails unless it
// is want + "\n" with exactly one descriptor, which it closes.
func (p *rawPeer) expectEnvelope(want string) {
	p.t.Helper()
	line, fds := p.readLine()
	p.closeFDs(fds)
	if line != want+"\n" || len(fds) != 1 {
		p.t.Fatalf("raw read %q with %d fds, want %q with one", line, len(fds), want+"\n")
	}
}

const socketEnvelope = `{"cmd":"NODE_HANDLE","type":"net.Socket","msg":"h"}`

func TestHandleAnswer(t *testing.T) {
	for _, c := range []struct {
		answer string
		want   error
	}{
		{"NODE_HANDLE_ACK", nil},
		{"NODE_HANDLE_NACK", ipc.ErrHandleRejected},
	} {
		t.Run(c.answer, func(t *testing.T) {
			testutil.CheckFDs(t)
			ch, p := rawPair(t, nil)
			res := ch.SendHandleAsync("h", sockHandle(t))
			p.expectEnvelope(socketEnvelope)
			mustSend(t, ch, "held 1")
			mustSend(t, ch, "held 2")
			p.expectQuiet(200 * time.Millisecond)
			p.write(`{"cmd":"` + c.answer + `"}` + "\n")
			if err := waitResult(t, res); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("SendHandle: %v, want %v", err, c.want)
			}
			p.expectLine(`"held 1"`)
			p.expectLine(`"held 2"`)
		})
	}
}

func TestDgramType(t *testing.T) {
	for _, c := range []struct{ network, addr string }{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
	} {
		t.Run(c.network, func(t *testing.T) {
			testutil.CheckFDs(t)
			h, _ := udpCase(c.network, c.addr)(t)
			ch, p := rawPair(t, nil)
			res := ch.SendHandleAsync(true, h)
			p.expectEnvelope(`{"cmd":"NODE_HANDLE","type":"dgram.Socket","msg":true,"dgramType":"` + c.network + `"}`)
			p.write(`{"cmd":"NODE_HANDLE_ACK"}` + "\n")
			if err := waitResult(t, res); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSendHandleContext(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ch.SendHandleContext(ctx, "h", sockHandle(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendHandleContext with no answer: %v", err)
	}
	p.expectEnvelope(socketEnvelope)
}

func TestHandleOrderedBeforeLaterMessages(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	h := sockHandle(t)
	const n = 20
	var results []<-chan error
	for i := range n {
		results = append(results, ch.SendHandleAsync(i, h))
		mustSend(t, ch, fmt.Sprint("after ", i))
	}
	for i := range n {
		m := recvMsg(t, ch)
		m.CloseHandle()
		if m.HandleType != ipc.TypeSocket || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("got %s (%q), want handle %d back", m.Data, m.HandleType, i)
		}
		if s := recvInto[string](t, ch); s != fmt.Sprint("after ", i) {
			t.Fatalf("got %q, want the message sent after handle %d", s, i)
		}
	}
	for _, res := range results {
		if err := waitResult(t, res); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentSendHandle(t *testing.T) { concurrentHandles(t, 1) }

// concurrentHandles has 8 goroutines each send 10 handles, each followed
// by a message, with the given handle window, and checks every sender's
// order at a Go child.
func concurrentHandles(t *testing.T, window int) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	ch.SetHandleWindow(window)
	h := sockHandle(t)
	const senders, each = 8, 10
	wait := goEach(senders, func(g int) error {
		for i := range each {
			if err := ch.SendHandle(seqMsg{G: g, I: i}, h); err != nil {
				return err
			}
			if err := ch.Send(seqMsg{G: g, I: i}); err != nil {
				return err
			}
		}
		return nil
	})
	// Each sender's handle i, then its message i.
	recvInterleaved(t, ch, senders, 2*senders*each, func(m *ipc.Message, s seqMsg) int {
		if m.Handle != nil {
			return 2 * s.I
		}
		return 2*s.I + 1
	})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// Node re-sends a NACKed net.Socket wrapped once more as net.Native; the
// receiver unwraps it. An envelope without "msg" gives null.
func TestReceiveWrappedEnvelope(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	fd := socketPairFDs(t)[0]
	p.write(`{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"sock":1}}}`+"\n", fd)
	p.write(`{"cmd":"NODE_HANDLE","type":"net.Socket"}`+"\n", fd)
	for _, want := range []string{`{"sock":1}`, `null`} {
		p.expectLine(`{"cmd":"NODE_HANDLE_ACK"}`)
		m := recvMsg(t, ch)
		_, isConn := m.Handle.(net.Conn)
		m.CloseHandle()
		if string(m.Data) != want || m.HandleType != ipc.TypeSocket || !isConn {
			t.Fatalf("got %s as %q (conn %v), want %s as net.Socket", m.Data, m.HandleType, isConn, want)
		}
	}
}

package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

func TestCloseTwice(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	if ch.Err() != nil {
		t.Fatalf("Err on an open channel: %v", ch.Err())
	}
	if err := ch.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := ch.Close(); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	waitClosed(t, ch)
	if _, err := ch.Recv(); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := ch.Send("late"); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	if err := ch.SendHandle("late", sockHandle(t)); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("SendHandle after Close: %v, want ErrClosed", err)
	}
	if !errors.Is(ch.Err(), ipc.ErrClosed) {
		t.Fatalf("Err after Close: %v, want ErrClosed", ch.Err())
	}
	if rest := p.expectEOF(); rest != "" {
		t.Fatalf("the channel wrote %q", rest)
	}
}

func TestCloseFlushesSent(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	const n = 1000
	for i := range n {
		mustSend(t, ch, i)
	}
	// The peer reads while Close drains: small writes fill a socket's
	// buffer by their overhead long before their bytes do, and Close waits
	// only closeFlushTimeout for a peer that does not read.
	closed := make(chan error, 1)
	go func() { closed <- ch.Close() }()
	lines := strings.SplitAfter(p.expectEOF(), "\n")
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(lines) != n+1 || lines[n-1] != fmt.Sprint(n-1, "\n") || lines[n] != "" {
		t.Fatalf("read %d lines, last %q; want %d", len(lines)-1, lines[len(lines)-1], n)
	}
}

func TestCloseWhileHandleAwaitsAnswer(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	res := ch.SendHandleAsync("h", sockHandle(t))
	p.expectEnvelope(socketEnvelope)
	mustSend(t, ch, "held")
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitResult(t, res); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("SendHandle: %v, want ErrClosed", err)
	}
	if rest := p.expectEOF(); rest != "" {
		t.Fatalf("the held message was written after Close: %q", rest)
	}
}

func TestCloseClosesUnreturnedHandles(t *testing.T) {
	testutil.CheckFDs(t)
	synced := make(chan struct{})
	ch, p := rawPair(t, &ipc.Options{Internal: func(m *ipc.Message) {
		if m.Cmd == "NODE_SYNC" {
			close(synced)
		}
	}})
	fd := socketPairFDs(t)[0]
	before := len(testutil.FDs())
	const n = 3
	for range n {
		p.write(socketEnvelope+"\n", fd)
	}
	p.write(`{"cmd":"NODE_SYNC"}` + "\n")
	select {
	case <-synced:
	case <-time.After(liveness):
		t.Fatal("the channel did not read the handles")
	}
	if got := len(testutil.FDs()); got < before+n {
		t.Fatalf("%d descriptors open with %d handles waiting, want at least %d", got, n, before+n)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	// The channel's own socket is closed too.
	if got := len(testutil.FDs()); got != before-1 {
		t.Fatalf("%d descriptors open after Close, want %d", got, before-1)
	}
}

func TestRecvContextDone(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ch.RecvContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecvContext with a cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := ch.RecvContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RecvContext past its deadline: %v", err)
	}
	p.write("1\n")
	if m := recvMsg(t, ch); string(m.Data) != "1" {
		t.Fatalf("got %s after the cancelled receives", m.Data)
	}
	if ch.Err() != nil {
		t.Fatalf("a cancelled receive closed the channel: %v", ch.Err())
	}
}

func TestMessagesIterator(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	p.write("1\n2\n3\n4\n")
	for m := range ch.Messages() {
		if string(m.Data) == "2" {
			break
		}
	}
	if m := recvMsg(t, ch); string(m.Data) != "3" {
		t.Fatalf("after breaking out: got %s, want 3", m.Data)
	}
	p.conn.Close()
	var got []string
	for m := range ch.Messages() {
		got = append(got, string(m.Data))
	}
	if len(got) != 1 || got[0] != "4" {
		t.Fatalf("the iterator gave %q, want [4]", got)
	}
	if !errors.Is(ch.Err(), ipc.ErrDisconnected) {
		t.Fatalf("Err after the iterator ended: %v", ch.Err())
	}
}

func TestDisconnectByPeer(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	select {
	case <-ch.Done():
		t.Fatal("Done closed on an open channel")
	default:
	}
	p.write(`{"last":true}` + "\n")
	p.conn.Close()
	waitClosed(t, ch)
	if m := recvMsg(t, ch); string(m.Data) != `{"last":true}` {
		t.Fatalf("got %s, want the message sent before the close", m.Data)
	}
	for range 2 {
		if _, err := ch.Recv(); !errors.Is(err, ipc.ErrDisconnected) {
			t.Fatalf("Recv: %v, want ErrDisconnected", err)
		}
	}
	if err := ch.Send(1); err == nil {
		t.Fatal("Send to a disconnected peer succeeded")
	}
	if err := ch.Close(); err != nil {
		t.Fatalf("Close after disconnect: %v", err)
	}
	if !errors.Is(ch.Err(), ipc.ErrDisconnected) {
		t.Fatalf("Err: %v, want ErrDisconnected still", ch.Err())
	}
}

// waitResult returns the outcome of a SendHandleAsync.
func waitResult(t testing.TB, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(liveness):
		t.Fatal("SendHandle did not finish")
		return nil
	}
}

// A peer that closes while this side writes is a disconnect, not a write
// error: the reason must not depend on which side notices first.
func TestPeerGoneWhileSending(t *testing.T) {
	testutil.CheckFDs(t)
	line := strings.Repeat("x", 1000)
	for i := range 50 {
		ch, p := rawPair(t, nil)
		p.conn.Close()
		var err error
		for range 1 << 20 {
			if err = ch.Send(line); err != nil {
				break
			}
		}
		if !errors.Is(err, ipc.ErrDisconnected) {
			t.Fatalf("round %d: Send: %v, want ErrDisconnected", i, err)
		}
		waitClosed(t, ch)
		if !errors.Is(ch.Err(), ipc.ErrDisconnected) {
			t.Fatalf("round %d: Err: %v, want ErrDisconnected", i, ch.Err())
		}
		ch.Close()
	}
}

func TestPeerGoneWhileHandleAwaitsAnswer(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	res := ch.SendHandleAsync("h", sockHandle(t))
	p.expectEnvelope(socketEnvelope)
	p.conn.Close()
	if err := waitResult(t, res); !errors.Is(err, ipc.ErrDisconnected) {
		t.Fatalf("SendHandle: %v, want ErrDisconnected", err)
	}
}

// Close gives up on a peer that does not read; the reason is still
// ErrClosed.
func TestCloseWithStuckPeer(t *testing.T) {
	testutil.CheckFDs(t)
	ch, _ := rawPair(t, nil)
	big := strings.Repeat("x", 16<<20)
	sent := make(chan error, 1)
	go func() { sent <- ch.Send(big) }()
	receiving := make(chan error, 1)
	go func() {
		_, err := ch.Recv()
		receiving <- err
	}()
	time.Sleep(50 * time.Millisecond) // let both block (not needed to pass)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan error{sent, receiving} {
		if err := waitResult(t, c); c == receiving && !errors.Is(err, ipc.ErrClosed) {
			t.Fatalf("a Recv blocked during Close: %v, want ErrClosed", err)
		}
	}
	if !errors.Is(ch.Err(), ipc.ErrClosed) {
		t.Fatalf("Err after Close: %v, want ErrClosed", ch.Err())
	}
}

func TestCloseConcurrent(t *testing.T) {
	testutil.CheckFDs(t)
	ch, _ := rawPair(t, nil)
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- ch.Close() })
	}
	wg.Wait()
	close(errs)
	first := 0
	for err := range errs {
		switch {
		case err == nil:
			first++
		case !errors.Is(err, ipc.ErrClosed):
			t.Fatalf("Close: %v", err)
		}
	}
	if first != 1 {
		t.Fatalf("%d of %d concurrent Close calls returned nil, want 1", first, n)
	}
}

// A peer that closes without reading what it was sent makes Linux report
// ECONNRESET instead of end of file; that is a disconnect too.
func TestPeerClosesWithUnreadInput(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	mustSend(t, ch, "never read")
	p.write("1\n")
	p.conn.Close()
	if err := recvErr(t, ch); !errors.Is(err, ipc.ErrDisconnected) {
		t.Fatalf("got %v, want ErrDisconnected", err)
	}
}

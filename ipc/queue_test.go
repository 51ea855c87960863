package ipc_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

// With MaxQueue, a peer that never reads makes a send fail at once with
// ErrQueueFull, and closes the channel with it; no send ever waits. (Without
// the limit the sends wait for the peer: the test fails at its deadline.)
func TestQueueLimitFailsAtOnce(t *testing.T) {
	testutil.CheckFDs(t)
	const limit = 1 << 20
	ch, _ := rawPair(t, &ipc.Options{MaxQueue: limit})
	msg := strings.Repeat("x", 60000)
	res := make(chan error, 1)
	go func() {
		for range 1000 { // 60 MB: far past the limit and any socket buffer
			if err := ch.Send(msg); err != nil {
				res <- err
				return
			}
		}
		res <- nil
	}()
	err := waitResult(t, res)
	if !errors.Is(err, ipc.ErrQueueFull) {
		t.Fatalf("Send: %v, want ErrQueueFull", err)
	}
	waitClosed(t, ch)
	if !errors.Is(ch.Err(), ipc.ErrQueueFull) {
		t.Fatalf("channel closed with %v, want ErrQueueFull", ch.Err())
	}
	t.Logf("closed with: %v", ch.Err())
}

// Handles count in the limit too, and a handle send never writes more
// than a non-blocking attempt on the caller's goroutine: each returns at
// once while the peer reads nothing.
func TestQueueLimitHandlesNeverWait(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, &ipc.Options{MaxQueue: 256 << 10})
	ch.SetHandleWindow(16)
	h := ipc.Handle{Type: ipc.TypeNative, FD: sockFD(t, p.conn)}
	results := make(chan error, 20000)
	big := strings.Repeat("y", 150)
	start := time.Now()
	for range 20000 { // 20000 envelopes of ~200 bytes: past the limit
		ch.LendHandle(big, h, func(err error) { results <- err })
		if ch.Err() != nil {
			break
		}
	}
	if ch.Err() == nil {
		t.Fatalf("no error after 20000 handles to a peer that does not read (%s)", time.Since(start))
	}
	if !errors.Is(ch.Err(), ipc.ErrQueueFull) {
		t.Fatalf("channel closed with %v, want ErrQueueFull", ch.Err())
	}
	for len(results) > 0 {
		if err := <-results; err == nil {
			t.Fatal("a handle was acknowledged by a peer that sent nothing")
		}
	}
}

// With AckBeforeDeliver, a received handle reaches Recv only once its ACK
// is on the wire: while the channel's writer is stuck behind a message the
// peer does not read, the handle waits. (Without it, Recv returns the
// handle at once, its ACK still queued: the test fails.)
func TestAckBeforeDeliver(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, &ipc.Options{AckBeforeDeliver: true})
	big := strings.Repeat("z", 8<<20)    // past any socket buffer: the writer waits for the peer
	if err := ch.Send(big); err != nil { // returns once queued
		t.Fatal(err)
	}
	fd := socketPairFDs(t)[0]
	p.write(socketEnvelope+"\n", fd)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	m, err := ch.RecvContext(ctx)
	cancel()
	if err == nil {
		m.CloseHandle()
		t.Fatal("the handle was delivered before its ACK was written")
	}
	// Read everything: the big message, then the ACK.
	for !bytes.Contains(p.buf, []byte(`{"cmd":"NODE_HANDLE_ACK"}`)) {
		if err := p.fill(time.Now().Add(liveness)); err != nil {
			t.Fatalf("raw read: %v", err)
		}
	}
	m = recvMsg(t, ch)
	if m.Handle == nil {
		t.Fatal("no handle")
	}
	m.CloseHandle()
}

// Close called from the Internal handler returns (it used to wait for the
// read goroutine, which was the caller: a deadlock).
func TestCloseFromInternalHandler(t *testing.T) {
	testutil.CheckFDs(t)
	var ch *ipc.Channel
	closed := make(chan error, 1)
	ready := make(chan struct{})
	ch, p := rawPair(t, &ipc.Options{Internal: func(m *ipc.Message) {
		<-ready
		closed <- ch.Close()
		closed <- ch.Close()
	}})
	close(ready)
	p.write(`{"cmd":"NODE_X"}` + "\n")
	if err := waitResult(t, closed); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := waitResult(t, closed); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	waitClosed(t, ch)
	p.expectEOF()
}

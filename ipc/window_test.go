package ipc_test

import (
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// With a window of 4, four handles go out before any answer; the fifth
// waits for the first ACK, and the answers settle them in order.
func TestHandleWindow(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	ch.SetHandleWindow(4)
	h := sockHandle(t)
	var results []<-chan error
	for i := range 5 {
		results = append(results, ch.SendHandleAsync(seqMsg{I: i}, h))
	}
	for range 4 {
		_, fds := p.readLine()
		p.closeFDs(fds)
	}
	p.expectQuiet(200 * time.Millisecond)
	p.write(`{"cmd":"NODE_HANDLE_ACK"}` + "\n")
	_, fds := p.readLine()
	p.closeFDs(fds)
	if err := waitResult(t, results[0]); err != nil {
		t.Fatal(err)
	}
	p.write(`{"cmd":"NODE_HANDLE_NACK"}` + "\n")
	if err := waitResult(t, results[1]); err == nil {
		t.Fatal("the second handle was settled by the first answer")
	}
	for range 3 {
		p.write(`{"cmd":"NODE_HANDLE_ACK"}` + "\n")
	}
	for _, res := range results[2:] {
		if err := waitResult(t, res); err != nil {
			t.Fatal(err)
		}
	}
}

// A Go child takes pipelined handles and messages in order.
func TestHandleWindowWithGoChild(t *testing.T) { concurrentHandles(t, 16) }

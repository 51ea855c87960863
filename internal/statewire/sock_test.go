package statewire

import (
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// sockPair returns a Sock and the other end of its socket pair.
func sockPair(t *testing.T) (*Sock, net.Conn) {
	t.Helper()
	a, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSock(a, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); peer.Close() })
	return s, peer
}

type readResult struct {
	data string
	err  error
}

// readAsync reads from s on a goroutine of its own.
func readAsync(s *Sock) <-chan readResult {
	res := make(chan readResult, 1)
	go func() {
		buf := make([]byte, 64)
		n, err := s.Read(buf)
		res <- readResult{string(buf[:n]), err}
	}()
	return res
}

func wait(t *testing.T, res <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(time.Minute):
		t.Fatal("the read did not return")
		return readResult{}
	}
}

// TestSockReads: data is read whether it comes while the read polls or
// after it parked in the network poller, and the end is io.EOF.
func TestSockReads(t *testing.T) {
	s, peer := sockPair(t)
	for _, delay := range []time.Duration{0, PollWait / 10, 3 * PollWait} {
		res := readAsync(s)
		time.Sleep(delay)
		peer.Write([]byte("x"))
		if r := wait(t, res); r.err != nil || r.data != "x" {
			t.Fatalf("after %v: %q, %v", delay, r.data, r.err)
		}
	}
	peer.Write([]byte("abc"))
	peer.Close()
	if r := wait(t, readAsync(s)); r.err != nil || r.data != "abc" {
		t.Fatalf("the last data: %q, %v", r.data, r.err)
	}
	if r := wait(t, readAsync(s)); r.err != io.EOF {
		t.Fatalf("at the end: %q, %v", r.data, r.err)
	}
}

// TestSockInterrupt: Interrupt ends a read under way, or else the next
// one, and later reads go on.
func TestSockInterrupt(t *testing.T) {
	s, peer := sockPair(t)
	for _, delay := range []time.Duration{PollWait / 10, 3 * PollWait} {
		res := readAsync(s)
		time.Sleep(delay)
		s.Interrupt()
		if r := wait(t, res); !errors.Is(r.err, ErrInterrupted) {
			t.Fatalf("interrupted after %v: %q, %v", delay, r.data, r.err)
		}
	}
	s.Interrupt()
	peer.Write([]byte("y"))
	if r := wait(t, readAsync(s)); !errors.Is(r.err, ErrInterrupted) {
		t.Fatalf("a read after an interrupt: %q, %v", r.data, r.err)
	}
	if r := wait(t, readAsync(s)); r.err != nil || r.data != "y" {
		t.Fatalf("the next read: %q, %v", r.data, r.err)
	}
}

// TestSockCloseEndsRead: Close ends a read under way and returns.
func TestSockCloseEndsRead(t *testing.T) {
	for _, delay := range []time.Duration{PollWait / 10, 3 * PollWait} {
		s, _ := sockPair(t)
		res := readAsync(s)
		time.Sleep(delay)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		if r := wait(t, res); r.err == nil {
			t.Fatalf("a read survived Close after %v", delay)
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Close did not return")
		}
	}
}

// TestSockOneP: with one P only a Sock with a far end polls, and both
// read as well.
func TestSockOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, far := range []bool{false, true} {
		s, peer := sockPair(t)
		s.far = far
		res := readAsync(s)
		time.Sleep(PollWait / 10)
		peer.Write([]byte("z"))
		if r := wait(t, res); r.err != nil || r.data != "z" {
			t.Fatalf("far %v: %q, %v", far, r.data, r.err)
		}
	}
}

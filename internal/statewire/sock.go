package statewire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// ErrInterrupted is what a Sock's Read returns when Interrupt cut it
// short.
var ErrInterrupted = errors.New("statewire: read interrupted")

// PollWait is how long a Sock's Read waits in poll(2) before it parks in
// Go's network poller.
const PollWait = time.Millisecond

// Sock is a socket whose reads first wait for data in poll(2), on the
// reading thread, for up to PollWait, and only then park in Go's network
// poller. A request answered within PollWait (the usual case) then costs
// each end a write, a poll and a read, and one wake-up of the waiting
// thread by the kernel, where the network poller adds a read that finds
// nothing, one or two epoll_wait calls, and often the wake-up of a
// second thread: on a small machine that halves the CPU time of a round
// trip, and much of the latency that a caller waiting for it sees.
//
// While it polls, the reading goroutine keeps its thread and its P (the
// runtime counts it in a system call, and may hand the P to another
// thread after 20µs). So a reader that made goroutines ready lets them
// run first (Yield), and no more Socks poll at once than there are Ps.
// With one P (GOMAXPROCS=1, as a herd worker that has one CPU's share
// runs), only a Sock whose other end is another process's polls (a
// worker waiting for the primary's reply): the process may need its one
// P to serve the other end, or its other sockets.
//
// One goroutine at a time may Read; writes go through the network poller
// as usual.
type Sock struct {
	net.Conn
	rc      syscall.RawConn
	far     bool // the other end is another process's
	pfd     [1]unix.PollFd
	drained bool // the last read emptied the socket: wait before reading
	yield   bool // let the ready goroutines run before waiting
}

// pollers counts the Socks of the process that wait in poll(2); past
// maxPollers (GOMAXPROCS, as NewSock last saw it), a Read parks in the
// network poller at once.
var pollers, maxPollers atomic.Int32

// NewSock makes a Sock of nc, a Unix or TCP socket, which it owns; far
// says that the other end is served by another process.
func NewSock(nc net.Conn, far bool) (*Sock, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("statewire: %T is not a socket", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("statewire: %w", err)
	}
	maxPollers.Store(int32(runtime.GOMAXPROCS(0)))
	return &Sock{Conn: nc, rc: rc, far: far, drained: true}, nil
}

// Pair makes a connected pair of Unix stream sockets.
func Pair() (net.Conn, net.Conn, error) {
	fds, err := sysport.Socketpair(unix.SOCK_STREAM)
	if err != nil {
		return nil, nil, fmt.Errorf("statewire: socketpair: %w", err)
	}
	a, err := fileConn(fds[0])
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	b, err := fileConn(fds[1])
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// fileConn makes a net.Conn of a socket descriptor, which it takes.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "state")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("statewire: %w", err)
	}
	return c, nil
}

// Read reads what the socket holds, waiting for it; it returns io.EOF at
// the end, and ErrInterrupted, having read nothing, after Interrupt.
func (s *Sock) Read(p []byte) (n int, err error) {
	polled := false
	rerr := s.rc.Read(func(fd uintptr) bool {
		for {
			if s.drained && !polled {
				polled = true
				if !s.poll(int(fd)) {
					return false // nothing came: wait in the network poller
				}
			}
			n, err = unix.Read(int(fd), p)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				s.drained = true
				if polled {
					return false
				}
				continue
			case err != nil:
				n = 0
			case n == 0 && len(p) > 0:
				err = io.EOF
			default:
				s.drained = n < len(p)
			}
			return true
		}
	})
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		s.Conn.SetReadDeadline(time.Time{})
		return 0, ErrInterrupted
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, err
}

// poll waits up to PollWait for the socket to be readable, and reports
// false if it did not become so. When it may not wait (maxPollers wait
// already, or one P and no far end) it reports true: the read then tells.
func (s *Sock) poll(fd int) bool {
	if s.yield {
		s.yield = false
		runtime.Gosched()
	}
	limit := maxPollers.Load()
	if limit < 2 && !s.far {
		return true
	}
	if pollers.Add(1) > limit {
		pollers.Add(-1)
		return true
	}
	defer pollers.Add(-1)
	for {
		s.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		ready, err := sysport.Poll(s.pfd[:], PollWait)
		if err != unix.EINTR {
			return ready > 0 || err != nil
		}
	}
}

// Yield tells the reader's Sock that it made goroutines ready: the next
// Read that waits lets them run first (runtime.Gosched) rather than have
// them wait behind its poll, which keeps the P. Only the reader calls it.
func (s *Sock) Yield() { s.yield = true }

// Interrupt makes the Read under way return ErrInterrupted (within
// PollWait) unless data comes first, and else the next Read. Any
// goroutine may call it.
func (s *Sock) Interrupt() {
	s.Conn.SetReadDeadline(time.Unix(1, 0))
}

// WriteBuffers writes bufs with writev(2), as one write: the frames of
// another goroutine's write never come between them. It consumes bufs.
func (s *Sock) WriteBuffers(bufs *net.Buffers) (int64, error) {
	return bufs.WriteTo(s.Conn)
}

// Close shuts the socket down, which ends a Read under way, and closes
// it.
func (s *Sock) Close() error {
	s.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	return s.Conn.Close() // returns once a Read under way has
}

package cluster

import (
	"net"
	"sync"
)

// rrConnBuffer is how many handed-over connections may wait for Accept
// before more are given back to the primary.
const rrConnBuffer = 128

// rrListener is a worker's listener for a round-robin socket: Accept
// returns the connections the primary hands over.
type rrListener struct {
	w     *worker
	key   string
	addr  net.Addr
	least bool
	conns chan net.Conn

	mu     sync.Mutex
	closed chan struct{}
}

func newRRListener(w *worker, m *msg) *rrListener {
	return &rrListener{w: w, key: m.Key, addr: parseAddr(m.Network, m.Address), least: m.Mode == modeLeastConn,
		conns: make(chan net.Conn, rrConnBuffer), closed: make(chan struct{})}
}

func parseAddr(network, address string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", address); err == nil {
		return a
	}
	return &net.UnixAddr{Name: address, Net: "unix"}
}

// offer queues c for Accept; false means the listener cannot take it.
func (l *rrListener) offer(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	default:
		return false
	}
}

// Accept waits for the next connection handed over by the primary.
func (l *rrListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return l.w.trackConn(c, l.least), nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops the listener; connections not yet accepted go back to the
// primary, which gives them to another worker.
func (l *rrListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return nil
	default:
	}
	close(l.closed)
	l.w.mu.Lock()
	delete(l.w.listeners, l.key)
	l.w.mu.Unlock()
	for {
		select {
		case c := <-l.conns:
			l.w.requeue(l.key, c)
		default:
			return nil
		}
	}
}

// Addr is the address the primary listens on.
func (l *rrListener) Addr() net.Addr { return l.addr }

// countingListener counts the connections of a listener the worker
// accepts on itself (shared, reuseport).
type countingListener struct {
	net.Listener
	w *worker
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.w.trackConn(c, false), nil
}

// trackedConn counts itself open until closed, and for least-connections
// reports its close to the primary.
type trackedConn struct {
	net.Conn
	w     *worker
	least bool
	once  sync.Once
}

func (w *worker) trackConn(c net.Conn, least bool) net.Conn {
	w.open.Add(1)
	return &trackedConn{Conn: c, w: w, least: least}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.w.open.Add(-1)
		if c.least {
			c.w.reportClosed()
		}
	})
	return err
}

// NetConn returns the connection the primary handed over.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

// reportClosed tells the primary about closed connections, coalescing the
// closes that happen while a report is being sent.
func (w *worker) reportClosed() {
	if w.closedPending.Add(1) != 1 {
		return
	}
	m := newMsg(actClosed)
	m.N = int(w.closedPending.Swap(0))
	w.ch.Send(m)
}

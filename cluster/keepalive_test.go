package cluster_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// startKeepAliveLoad is startLoad over keep-alive connections, sent as
// wrk sends them: the next request on a connection follows its answer at
// once, an answer with "Connection: close" makes the client reconnect, and
// nothing is retried, so a request the server drops counts as failed.
func startKeepAliveLoad(addr string) *load {
	return runLoad(func(l *load) (func(), func()) {
		var c *kaConn
		next := func() { c = l.keepAliveOne(addr, c) }
		end := func() {
			if c != nil {
				c.Close()
			}
		}
		return next, end
	})
}

// kaConn is a keep-alive client connection.
type kaConn struct {
	net.Conn
	r *bufio.Reader
}

// keepAliveOne sends one request on c, dialling addr when c is nil, and
// returns the connection for the next one (nil once it is closed).
func (l *load) keepAliveOne(addr string, c *kaConn) *kaConn {
	if c == nil {
		var err error
		if c, err = dialKA(addr); err != nil {
			l.fail(err)
			return nil
		}
	}
	resp, err := c.get()
	if err != nil {
		c.Close()
		l.fail(err)
		return nil
	}
	l.ok.Add(1)
	if resp.Close {
		c.Close()
		return nil
	}
	return c
}

// dialKA opens a keep-alive client connection to addr.
func dialKA(addr string) (*kaConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &kaConn{Conn: nc, r: bufio.NewReader(nc)}, nil
}

// get sends GET / and reads the whole answer, which must be a 200.
func (c *kaConn) get() (*http.Response, error) {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: herd\r\n\r\n"); err != nil {
		return nil, fmt.Errorf("keep-alive request: %w", err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, fmt.Errorf("keep-alive answer: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("keep-alive answer: %s", resp.Status)
	}
	return resp, err
}

func (l *load) fail(err error) {
	l.failed.Add(1)
	l.lastErr.Store(err)
}

// A draining worker answers each request on a keep-alive connection with
// "Connection: close", and closes a connection that stays idle only after
// IdleGrace, Go workers (Serve) and Node workers (herd's preload) alike.
func TestDrainKeepsIdleConnectionsForTheGrace(t *testing.T) {
	const grace = 1500 * time.Millisecond
	cfg := cluster.Config{Workers: 1, IdleGrace: grace, KillTimeout: time.Minute}
	for name, start := range map[string]func() *harness{
		"go":   func() *harness { return start(t, cfg, "http") },
		"node": func() *harness { return startNode(t, cfg, nodeHTTP) },
	} {
		t.Run(name, func(t *testing.T) {
			testutil.CheckFDs(t)
			h := start()
			h.waitReady(1)
			idle, busy := dialKeepAlive(t, h.local()), dialKeepAlive(t, h.local())
			began := time.Now()
			h.cancel() // a graceful stop: the worker is disconnected
			for i := 0; ; i++ {
				resp, err := busy.get()
				if err != nil {
					t.Fatalf("request %d on a keep-alive connection while draining: %v", i, err)
				}
				if resp.Close {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			idle.SetReadDeadline(time.Now().Add(30 * time.Second))
			if n, err := idle.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("idle connection: read %d bytes, %v; want the worker to close it", n, err)
			}
			if d := time.Since(began); d < grace {
				t.Fatalf("idle connection closed %v after the stop began, before the grace of %v", d, grace)
			}
			idle.Close()
			busy.Close()
			stopClean(t, h)
		})
	}
}

// dialKeepAlive opens a connection to addr and makes one request on it.
func dialKeepAlive(t *testing.T, addr string) *kaConn {
	t.Helper()
	c, err := dialKA(addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.get(); err != nil || resp.Close {
		t.Fatalf("first request: %v (close: %v)", err, resp != nil && resp.Close)
	}
	return c
}

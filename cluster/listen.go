package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herdhq/herd/ipc"
)

// Listen announces on the local network address, as net.Listen does. In a
// worker it asks the primary instead, which binds the address once for all
// workers and answers according to its policy: a socket shared by every
// worker, one of the worker's own in an SO_REUSEPORT group, or (round
// robin, least connections) a listener fed with connections the primary
// accepted. Outside a cluster it is net.Listen.
func Listen(network, address string) (net.Listener, error) {
	w, err := self()
	if err != nil {
		return nil, err
	}
	if w == nil {
		return net.Listen(network, address)
	}
	reply, im, err := w.request(network, address)
	if err != nil {
		return nil, err
	}
	switch h := im.Handle.(type) {
	case *rrListener:
		return w.track(h), nil
	case net.Listener:
		return w.track(&countingListener{Listener: h, w: w}), nil
	}
	im.CloseHandle()
	return nil, fmt.Errorf("cluster: listen %s %s: the primary answered mode %q without a listener", network, address, reply.Mode)
}

// ListenPacket announces on the local network address, as
// net.ListenPacket does. In a worker it gets the primary's socket, shared
// by every worker (UDP is always shared). Outside a cluster it is
// net.ListenPacket.
func ListenPacket(network, address string) (net.PacketConn, error) {
	w, err := self()
	if err != nil {
		return nil, err
	}
	if w == nil {
		return net.ListenPacket(network, address)
	}
	_, im, err := w.request(network, address)
	if err != nil {
		return nil, err
	}
	if pc, ok := im.Handle.(net.PacketConn); ok {
		return pc, nil
	}
	im.CloseHandle()
	return nil, fmt.Errorf("cluster: listen %s %s: the primary sent no packet socket", network, address)
}

// request asks the primary for a socket and waits for the answer.
func (w *worker) request(network, address string) (*msg, *ipc.Message, error) {
	q := newMsg(actListen)
	q.Seq, q.Network, q.Address = w.seq.Add(1), network, address
	c := make(chan *ipc.Message, 1)
	w.mu.Lock()
	w.waiting[q.Seq] = c
	w.mu.Unlock()
	if err := w.ch.Send(q); err != nil {
		return nil, nil, fmt.Errorf("cluster: listen %s %s: %w", network, address, err)
	}
	select {
	case im := <-c:
		return w.reply(network, address, im)
	case <-w.ch.Done():
		return nil, nil, fmt.Errorf("cluster: listen %s %s: %w", network, address, w.ch.Err())
	case <-time.After(listenTimeout):
		return nil, nil, fmt.Errorf("cluster: listen %s %s: no answer from the primary in %s", network, address, listenTimeout)
	}
}

func (w *worker) reply(network, address string, im *ipc.Message) (*msg, *ipc.Message, error) {
	m, err := decodeMsg(im.Data)
	if err == nil && m.Error != "" {
		err = &net.OpError{Op: "listen", Net: network, Err: primaryError{m.Error, syscall.Errno(m.Errno)}}
	}
	if err != nil {
		im.CloseHandle()
		return nil, nil, err
	}
	return m, im, nil
}

// primaryError is an error the primary met for the worker; it matches its
// errno with errors.Is (syscall.EADDRINUSE, say).
type primaryError struct {
	msg   string
	errno syscall.Errno
}

func (e primaryError) Error() string        { return e.msg }
func (e primaryError) Is(target error) bool { return e.errno != 0 && target == e.errno }

// Serve runs srv on l until the worker must stop, then drains srv within
// the kill timeout: it stops accepting, answers every request already
// accepted, answers each later request on a keep-alive connection with
// "Connection: close" (the client reconnects, to another worker), closes
// the connections still idle after IdleGrace, and shuts srv down. It
// returns nil after a graceful stop. Outside a cluster it stops on SIGINT
// or SIGTERM. Serve sets srv's Handler and ConnState to wrappers that call
// the ones srv had.
//
// It drains before calling srv.Shutdown because Shutdown drops a request
// read from a connection accepted just before it was called, and closes
// idle keep-alive connections at once, failing a request a client is
// sending on one at that moment.
func Serve(srv *http.Server, l net.Listener) error {
	stop := Stopping()
	conns := trackConns(srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		select {
		case <-stop:
			return drain(srv, l, conns, nil)
		default:
			return err
		}
	case <-stop:
		return drain(srv, l, conns, errc)
	}
}

// connStates follows an http.Server's open connections, and tells its
// handler to close each one after its answer once draining.
type connStates struct {
	draining atomic.Bool
	mu       sync.Mutex
	state    map[net.Conn]http.ConnState
}

// trackConns wraps srv.ConnState and srv.Handler (calling the user's).
func trackConns(srv *http.Server) *connStates {
	cs := &connStates{state: map[net.Conn]http.ConnState{}}
	user := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		cs.set(c, st)
		if user != nil {
			user(c, st)
		}
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if cs.draining.Load() {
			rw.Header().Set("Connection", "close") // HTTP/2: a GOAWAY
		}
		h.ServeHTTP(rw, r)
	})
	return cs
}

func (cs *connStates) set(c net.Conn, st http.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(cs.state, c)
	} else {
		cs.state[c] = st
	}
}

// counts returns the open connections and those new or active: the ones
// that may still have a request to answer.
func (cs *connStates) counts() (open, busy int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, st := range cs.state {
		if st == http.StateNew || st == http.StateActive {
			busy++
		}
	}
	return len(cs.state), busy
}

// drained reports whether nothing is left to wait for: no connection
// open, or (once the idle grace is over) none busy.
func (cs *connStates) drained(graceOver bool) bool {
	open, busy := cs.counts()
	return !handingBack() && (open == 0 || (graceOver && busy == 0))
}

// handingBack reports whether this worker has connections on their way
// back to the primary (a closed round-robin listener gives back those not
// yet accepted): they are lost if it exits first.
func handingBack() bool {
	w, _ := self()
	return w != nil && w.handingBack.Load() > 0
}

// drain stops accepting, waits for Serve to return (so that every accepted
// connection is counted), for busy connections and for the idle grace,
// then shuts down.
func drain(srv *http.Server, l net.Listener, conns *connStates, errc chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), KillTimeout()*9/10)
	defer cancel()
	conns.draining.Store(true)
	l.Close()
	var serr error
	if errc != nil {
		serr = <-errc
	}
	graceEnd := time.Now().Add(IdleGrace())
	for ctx.Err() == nil && !conns.drained(!time.Now().Before(graceEnd)) {
		time.Sleep(5 * time.Millisecond)
	}
	err := srv.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the listener was closed at the disconnect already
	}
	if err == nil && serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
		err = serr
	}
	return err
}

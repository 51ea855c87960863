package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
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
// the kill timeout: keep-alive is switched off (idle connections close),
// every request already accepted is answered, then srv is shut down. It
// returns nil after a graceful stop. Outside a cluster it stops on SIGINT
// or SIGTERM.
//
// It drains before calling srv.Shutdown because Shutdown drops a request
// read from a connection accepted just before it was called.
func Serve(srv *http.Server, l net.Listener) error {
	stop := Stopping()
	busy := countBusy(srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		select {
		case <-stop:
			return drain(srv, l, busy, nil)
		default:
			return err
		}
	case <-stop:
		return drain(srv, l, busy, errc)
	}
}

// busyConns counts an http.Server's connections that are new or active:
// those that may still have a request to answer.
type busyConns struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

// countBusy wraps srv.ConnState (calling the user's hook too).
func countBusy(srv *http.Server) *busyConns {
	b := &busyConns{state: map[net.Conn]http.ConnState{}}
	user := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		b.set(c, st)
		if user != nil {
			user(c, st)
		}
	}
	return b
}

func (b *busyConns) set(c net.Conn, st http.ConnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st == http.StateNew || st == http.StateActive {
		b.state[c] = st
	} else {
		delete(b.state, c)
	}
}

func (b *busyConns) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.state)
}

// handingBack reports whether this worker has connections on their way
// back to the primary (a closed round-robin listener gives back those not
// yet accepted): they are lost if it exits first.
func handingBack() bool {
	w, _ := self()
	return w != nil && w.handingBack.Load() > 0
}

// drain stops accepting, waits for Serve to return (so that every accepted
// connection is counted) and for busy connections, then shuts down.
func drain(srv *http.Server, l net.Listener, busy *busyConns, errc chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), KillTimeout()*9/10)
	defer cancel()
	srv.SetKeepAlivesEnabled(false)
	l.Close()
	var serr error
	if errc != nil {
		serr = <-errc
	}
	for (busy.count() > 0 || handingBack()) && ctx.Err() == nil {
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

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// Serve runs srv on l until the worker must stop, then shuts srv down
// gracefully within the kill timeout. It returns nil after a graceful stop.
// Outside a cluster it stops on SIGINT or SIGTERM.
func Serve(srv *http.Server, l net.Listener) error {
	stop := Stopping()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	var err error
	select {
	case err = <-errc:
	case <-stop:
	}
	select {
	case <-stop:
		ctx, cancel := context.WithTimeout(context.Background(), KillTimeout()*9/10)
		defer cancel()
		err = srv.Shutdown(ctx)
		if serr := <-errc; err == nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
			err = serr
		}
		return err
	default:
		return err
	}
}

package state

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/ipc"
)

// handshakeTimeout bounds the wait for the primary's answer to connect.
const handshakeTimeout = 30 * time.Second

// dialer makes this worker's connection to the primary's store, asking
// for it on the worker's channel (the primary answers with a socket of
// its own), and makes it again once it is gone (the store evicted it).
// Every Store opened in the worker shares the one connection.
type dialer struct {
	ch      *ipc.Channel
	answers chan *ipc.Message

	mu   sync.Mutex // held while dialing: one dial at a time
	cur  *link
	hi   int64 // the last handshake's id
	fail error // the store is refused for good (disabled)
}

// theDialer is the worker's dialer: the worker has one channel to its
// primary for its whole life, so it has one dialer.
var theDialer = sync.OnceValue(func() *dialer {
	d := &dialer{ch: cluster.Channel(), answers: make(chan *ipc.Message, 4)}
	if d.ch == nil {
		d.fail = fmt.Errorf("state: this worker has no channel to its primary")
		return d
	}
	err := cluster.HandleInternal(statewire.Cmd, func(m *ipc.Message) {
		select {
		case d.answers <- m:
		default:
			m.CloseHandle()
		}
	})
	if err != nil {
		d.fail = fmt.Errorf("state: %w", err)
	}
	return d
})

// link returns the worker's live connection, making one if needed.
func (d *dialer) link() (*link, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	if d.cur != nil && d.cur.alive() {
		return d.cur, nil
	}
	l, err := d.dial()
	if err != nil {
		return nil, err
	}
	d.cur = l
	return l, nil
}

// dial asks the primary for a connection and waits for its answer,
// ignoring late answers to earlier handshakes. d.mu is held.
func (d *dialer) dial() (*link, error) {
	d.hi++
	if err := d.ch.Send(statewire.Hello{Cmd: statewire.Cmd, Op: statewire.OpConnect, ID: d.hi}); err != nil {
		return nil, fmt.Errorf("state: asking the primary for the store: %w", err)
	}
	timeout := time.NewTimer(handshakeTimeout)
	defer timeout.Stop()
	for {
		select {
		case m := <-d.answers:
			if w, err := statewire.DecodeWelcome(m.Data); err == nil && w.Ack != d.hi {
				m.CloseHandle()
				continue
			}
			return d.welcomed(m)
		case <-d.ch.Done():
			return nil, fmt.Errorf("state: the channel to the primary closed: %w", d.ch.Err())
		case <-timeout.C:
			return nil, fmt.Errorf("state: the primary did not answer in %s (is it a herd primary?)", handshakeTimeout)
		}
	}
}

// welcomed makes the link from the primary's answer. A refusal because
// the store is disabled is final; one because of the worker's
// connections (ErrConnLimit) is not.
func (d *dialer) welcomed(m *ipc.Message) (*link, error) {
	w, err := statewire.DecodeWelcome(m.Data)
	switch {
	case err == nil && w.Code == statewire.RefusedConnLimit:
		err = fmt.Errorf("%w: %s", ErrConnLimit, w.Err)
	case err == nil && w.Err != "":
		err = errors.New(w.Err)
	}
	nc, ok := m.Handle.(net.Conn)
	if err == nil && !ok {
		err = fmt.Errorf("the answer came without a socket")
	}
	if err != nil {
		m.CloseHandle()
		err = fmt.Errorf("state: the primary refused the embedded store: %w", err)
		if !errors.Is(err, ErrConnLimit) {
			d.fail = err
		}
		return nil, err
	}
	l, err := newLink(nc, true)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return l, nil
}

package cluster

import (
	"errors"

	"github.com/herdhq/herd/internal/statebroker"
	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/ipc"
)

// StateConfig configures the embedded store that the primary runs for
// package state (state.Open with "embedded://"). The zero value runs it
// with the default limits. Its memory is bounded: keys and bytes held, and
// per worker the pushes waiting to be written and the subscriptions.
// A worker that falls behind loses its oldest pushes (drop-oldest), and
// its subscriptions report the loss; it never slows the primary or the
// other workers.
type StateConfig struct {
	// Disabled turns the store off: state.Open("embedded://") fails in
	// the workers, saying so.
	Disabled bool
	// MaxKeys is how many keys the store holds at most (writes past it
	// fail with state.ErrFull); 0 means 1,048,576.
	MaxKeys int
	// MaxBytes bounds the keys' and values' bytes, plus 64 per key; 0
	// means 256 MiB.
	MaxBytes int64
	// QueueMessages and QueueBytes bound the pushes waiting to be written
	// to one worker before the oldest are dropped; 0 means 16,384 pushes
	// and 16 MiB.
	QueueMessages int
	QueueBytes    int
	// MaxSubscriptions bounds one worker's subscriptions plus watches; 0
	// means 10,000.
	MaxSubscriptions int
}

// openState starts the embedded store, unless it is disabled.
func (p *Primary) openState() *statebroker.Broker {
	c := p.cfg.State
	if c.Disabled {
		return nil
	}
	return statebroker.New(statebroker.Limits{MaxKeys: c.MaxKeys, MaxBytes: c.MaxBytes,
		QueueMessages: c.QueueMessages, QueueBytes: c.QueueBytes, MaxSubs: c.MaxSubscriptions})
}

// internalFunc is a worker channel's Options.Internal: it posts the
// worker's internal messages to the loop. The state handshake (once per
// worker) is answered there too; the store's traffic never is.
func (p *Primary) internalFunc(m *member) func(*ipc.Message) {
	return func(msg *ipc.Message) {
		if msg.Cmd != statewire.Cmd {
			p.post(internalMsg{m: m, msg: msg})
			return
		}
		msg.CloseHandle()
		data := msg.Data
		p.post(control{f: func() { p.stateConnect(m.cmd.Channel(), data) }, done: make(chan struct{})})
	}
}

// stateConnect answers, on the loop, a worker's request for a connection
// to the embedded store: one end of a new socket pair, sent as the
// answer's handle (asynchronously: the loop never waits for the worker).
func (p *Primary) stateConnect(ch *ipc.Channel, data []byte) {
	h, err := statewire.DecodeHello(data)
	if err != nil || h.Op != statewire.OpConnect {
		return
	}
	w := statewire.Welcome{Cmd: statewire.Cmd, Ack: h.ID}
	if p.state == nil {
		w.Err = "the embedded store is disabled (cluster.Config.State.Disabled)"
		ch.Send(w)
		return
	}
	nc, err := p.state.Connect()
	if err != nil {
		w.Err = err.Error()
		ch.Send(w)
		return
	}
	ch.SendHandleFunc(w, nc, func(error) { nc.Close() })
}

// StateStats describes the embedded store's use of its limits.
type StateStats struct {
	Keys          int    // keys held
	Bytes         int64  // as counted for StateConfig.MaxBytes
	Workers       int    // workers that spoke to the store and are still connected
	Subscriptions int    // their subscriptions and watches
	Dropped       uint64 // pushes dropped so far because a worker was slow
}

// StateStats returns the embedded store's figures, from Run's loop as
// Workers does; it fails when the store is disabled, or with ErrStopped
// once Run has returned.
func (p *Primary) StateStats() (StateStats, error) {
	var b *statebroker.Broker
	if err := p.do(func() { b = p.state }); err != nil {
		return StateStats{}, err
	}
	if b == nil {
		return StateStats{}, errors.New("cluster: the embedded store is disabled")
	}
	s := b.Stats()
	return StateStats{Keys: s.Keys, Bytes: s.Bytes, Workers: s.Clients, Subscriptions: s.Subs, Dropped: s.Dropped}, nil
}

package cluster

import (
	"errors"
	"io"
	"time"

	"github.com/herdhq/herd/internal/statebroker"
	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/ipc"
)

// StateConfig configures the embedded store that the primary runs for
// package state (state.Open with "embedded://"). The zero value runs it
// with the default limits. Its memory is bounded: keys and bytes held;
// per worker its connections, and per connection the pushes waiting to
// be written and the subscriptions; the pushes waiting for all workers
// together. A worker that falls behind loses its oldest pushes
// (drop-oldest), and its subscriptions report the loss; one that reads
// nothing for StallTimeout, or holds the most when the total is reached,
// is evicted: its connection is closed, saying why (state.ErrEvicted). It
// never slows the primary or the other workers.
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
	// MaxSubscriptions bounds the channels one connection subscribes to
	// plus the keys it watches; 0 means 10,000. Their names take at most
	// 4 MiB.
	MaxSubscriptions int
	// MaxConns is how many connections to the store one worker holds at
	// once (a worker's state.Open shares one; it opens another only
	// after the store dropped it); asking for more fails with
	// state.ErrConnLimit. 0 means 4.
	MaxConns int
	// TotalQueueBytes bounds the pushes waiting to be written to all
	// workers together (a message for many subscribers counted once);
	// past it the connections holding the most are evicted. 0 means
	// 64 MiB.
	TotalQueueBytes int64
	// StallTimeout evicts a connection whose worker read nothing of what
	// the store wrote to it for that long. 0 means 10 seconds.
	StallTimeout time.Duration
	// MaxValueSize bounds a value or published payload (larger ones fail
	// with state.ErrTooLarge); 0 means, and at most, 8 MiB.
	MaxValueSize int
	// Restore, if set, is a snapshot of another primary's store
	// (Primary.SaveState: herd upgrade's old herd) that Run loads before
	// any worker starts: keys, values and the TTLs they had left, still
	// counting down. Keys past this store's limits are skipped; a
	// malformed snapshot is loaded up to its fault and logged. Run reads
	// it once and does not close it. nil: the store starts empty.
	Restore io.Reader
}

// ErrStateDisabled is the error of StateStats and SaveState when
// StateConfig.Disabled turned the embedded store off.
var ErrStateDisabled = errors.New("cluster: the embedded store is disabled")

// openState starts the embedded store, unless it is disabled.
func (p *Primary) openState() *statebroker.Broker {
	c := p.cfg.State
	if c.Disabled {
		return nil
	}
	b := statebroker.New(statebroker.Limits{MaxKeys: c.MaxKeys, MaxBytes: c.MaxBytes,
		QueueMessages: c.QueueMessages, QueueBytes: int64(c.QueueBytes), MaxSubs: c.MaxSubscriptions,
		MaxConns: c.MaxConns, TotalQueueBytes: c.TotalQueueBytes, StallTimeout: c.StallTimeout,
		MaxValue: c.MaxValueSize})
	if c.Restore != nil {
		p.restoreState(b, c.Restore)
	}
	return b
}

// restoreState loads StateConfig.Restore into b, and logs what it did.
func (p *Primary) restoreState(b *statebroker.Broker, r io.Reader) {
	loaded, skipped, err := b.Restore(r)
	if err != nil {
		p.cfg.Logger.Warn("cluster: the embedded store's snapshot is damaged: loaded up to the fault",
			"err", err, "loaded", loaded, "skipped", skipped)
		return
	}
	p.cfg.Logger.Debug("cluster: the embedded store's snapshot is loaded", "loaded", loaded, "skipped", skipped)
}

// SaveState writes a snapshot of the embedded store to w, for another
// primary's StateConfig.Restore (herd upgrade): its keys, values and the
// TTLs they have left. Workers keep using the store meanwhile; what they
// write after the snapshot is not in it. It fails when the store is
// disabled, or with ErrStopped once Run has returned.
func (p *Primary) SaveState(w io.Writer) error {
	var b *statebroker.Broker
	if err := p.do(func() { b = p.state }); err != nil {
		return err
	}
	if b == nil {
		return ErrStateDisabled
	}
	return b.Snapshot(w)
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
		p.post(control{f: func() { p.stateConnect(m, data) }, done: make(chan struct{})})
	}
}

// stateConnect answers, on the loop, a worker's request for a connection
// to the embedded store: one end of a new socket pair, sent as the
// answer's handle (asynchronously: the loop never waits for the worker).
// A worker that holds StateConfig.MaxConns connections is refused, and
// one that exited gets none.
func (p *Primary) stateConnect(m *member, data []byte) {
	if m.state == StateExited {
		return
	}
	ch := m.cmd.Channel()
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
	nc, err := p.state.ConnectFor(m.id)
	if err != nil {
		w.Err = err.Error()
		if errors.Is(err, statebroker.ErrConnLimit) {
			w.Code = statewire.RefusedConnLimit
		}
		ch.Send(w)
		return
	}
	ch.SendHandleFunc(w, nc, func(error) { nc.Close() })
}

// StateStats describes the embedded store's use of its limits.
type StateStats struct {
	Keys          int    // keys held
	Bytes         int64  // as counted for StateConfig.MaxBytes
	Workers       int    // connections of workers to the store (at most MaxConns per worker)
	Subscriptions int    // their subscriptions and watches
	Dropped       uint64 // pushes dropped so far because a worker was slow
	Queued        int64  // bytes of pushes waiting, as counted for StateConfig.TotalQueueBytes
	Evicted       uint64 // connections evicted so far (slow, or stalled)
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
		return StateStats{}, ErrStateDisabled
	}
	s := b.Stats()
	return StateStats{Keys: s.Keys, Bytes: s.Bytes, Workers: s.Clients, Subscriptions: s.Subs, Dropped: s.Dropped,
		Queued: s.Queued, Evicted: s.Evicted}, nil
}

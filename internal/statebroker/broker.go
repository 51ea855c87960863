// Package statebroker is the embedded store behind package state: a
// key/value map with TTLs, publish/subscribe and key watches, held in
// memory by one process (a cluster's primary) for clients that reach it
// over the statewire protocol (its workers).
//
// Each client has a socket of its own (Connect) and two goroutines: one
// reads its requests (waiting for them in poll(2) first: statewire.Sock),
// handles each under one short lock and writes the replies, with the
// pushes queued for the client meanwhile; the other writes the pushes
// (published messages, watched changes) that other clients' requests and
// expiry queue for it in a bounded queue. A slow client never stalls the
// broker or the other clients: its queue drops its oldest pushes.
//
// Nothing a client does grows the broker's memory without bound (Limits):
// a client (a worker) holds at most MaxConns connections; a push's body
// is held once however many clients it is queued for, and the bodies
// waiting for all clients together are bounded (TotalQueueBytes): past
// it the client holding the most is evicted. A client whose socket takes
// no write for StallTimeout is evicted too. An evicted client's pushes
// are dropped at once, its subscriptions removed, and its last frame (a
// bye, when its socket has room for it) says why before the socket
// closes.
package statebroker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// ErrConnLimit is ConnectFor's error for an owner that holds
// Limits.MaxConns connections already.
var ErrConnLimit = errors.New("statebroker: too many connections for one client")

// The defaults for zero Limits fields.
const (
	DefaultMaxKeys       = 1 << 20   // keys
	DefaultMaxBytes      = 256 << 20 // bytes of keys and values, with EntryOverhead per key
	DefaultQueueMessages = 16384     // pushes waiting for one client
	DefaultQueueBytes    = 16 << 20  // bytes of pushes waiting for one client
	DefaultMaxSubs       = 10000     // channels subscribed and keys watched by one client
	DefaultMaxSubBytes   = 4 << 20   // bytes of those channels' and keys' names, for one client
	DefaultMaxConns      = 4         // connections of one owner (ConnectFor)
	DefaultTotalQueue    = 64 << 20  // bytes of pushes waiting for all clients together
	DefaultStallTimeout  = 10 * time.Second
)

// EntryOverhead is what one key costs beyond its key and value bytes, in
// the accounting of Limits.MaxBytes (map and bookkeeping, approximately).
const EntryOverhead = 64

// maxKeysReply bounds the answer to a keys request: past it the request
// fails (ErrTooLarge) rather than making a line the channel would refuse.
const maxKeysReply = 32 << 20

// Limits bound the broker's memory. Zero fields take the defaults.
type Limits struct {
	// MaxKeys is how many keys the store holds at most; a write that would
	// add one more fails with ErrFull.
	MaxKeys int
	// MaxBytes bounds the sum of the keys' and values' lengths plus
	// EntryOverhead per key; a write that would pass it fails with ErrFull.
	MaxBytes int64
	// QueueMessages and QueueBytes bound the pushes (published messages,
	// watched changes) waiting to be written to one client. When a push
	// would pass either, the oldest waiting pushes are dropped
	// (drop-oldest); the client sees the gap in their sequence numbers.
	// QueueBytes counts the pushes being written too.
	QueueMessages int
	QueueBytes    int64
	// MaxSubs bounds the channels one client subscribes to (a subscription
	// to three channels counts three) plus the keys it watches, and
	// MaxSubBytes their names' bytes; a subscription past them fails
	// (statewire.CodeFull).
	MaxSubs     int
	MaxSubBytes int
	// MaxConns is how many connections one owner (ConnectFor: a worker)
	// holds at once; ConnectFor past it fails with ErrConnLimit.
	MaxConns int
	// TotalQueueBytes bounds the bytes of pushes waiting to be written
	// to all clients together, each push's body counted once however
	// many clients wait for it. A push that would pass it evicts the
	// clients holding the most queued bytes first; if it still does not
	// fit (bytes being written to clients are freed once written), it is
	// dropped for its subscribers, who see the gap.
	TotalQueueBytes int64
	// StallTimeout evicts a client whose socket took no write (of its
	// replies or pushes) for that long: it reads nothing.
	StallTimeout time.Duration
	// MaxValue bounds a value or payload, at most (and by default)
	// statewire.MaxValue; a larger one fails (statewire.CodeTooLarge).
	MaxValue int
}

func (l Limits) withDefaults() Limits {
	orDefault(&l.MaxKeys, DefaultMaxKeys)
	orDefault(&l.MaxBytes, DefaultMaxBytes)
	orDefault(&l.QueueMessages, DefaultQueueMessages)
	orDefault(&l.QueueBytes, DefaultQueueBytes)
	orDefault(&l.MaxSubs, DefaultMaxSubs)
	orDefault(&l.MaxSubBytes, DefaultMaxSubBytes)
	orDefault(&l.MaxConns, DefaultMaxConns)
	orDefault(&l.TotalQueueBytes, DefaultTotalQueue)
	orDefault(&l.StallTimeout, DefaultStallTimeout)
	if l.MaxValue <= 0 || l.MaxValue > statewire.MaxValue {
		l.MaxValue = statewire.MaxValue
	}
	return l
}

// orDefault sets *v to def unless it is positive.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Broker is the store. Its methods are safe for concurrent use.
type Broker struct {
	lim  Limits
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	kv      map[string]*entry
	bytes   int64
	exp     expiryHeap
	timer   *time.Timer
	armed   time.Time // when timer fires; zero when not armed
	chans   map[string]map[*sub]struct{}
	watches map[string]map[*sub]struct{}
	conns   map[*Conn]struct{}
	owners  map[int]int // connections per owner (ConnectFor)
	touched []*Conn     // the clients that got pushes since b.mu was taken
	evicted uint64      // clients evicted so far

	queued atomic.Int64 // bytes of push bodies held for clients (TotalQueueBytes)
	churn  atomic.Int64 // bytes of large requests and pushes freed, for patrol's giveBack
}

// New returns a running broker bounded by lim.
func New(lim Limits) *Broker {
	b := &Broker{
		lim:     lim.withDefaults(),
		stop:    make(chan struct{}),
		kv:      map[string]*entry{},
		chans:   map[string]map[*sub]struct{}{},
		watches: map[string]map[*sub]struct{}{},
		conns:   map[*Conn]struct{}{},
		owners:  map[int]int{},
	}
	b.wg.Add(1)
	go b.patrol()
	return b
}

// Close stops the broker: its clients' sockets are closed, and Close
// returns once their goroutines have ended. A nil Broker
// may be closed.
func (b *Broker) Close() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wg.Wait()
		return nil
	}
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	close(b.stop)
	for c := range b.conns {
		c.nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// Stats describes the broker's use of its limits.
type Stats struct {
	Keys    int    // keys held
	Bytes   int64  // as counted for Limits.MaxBytes
	Clients int    // clients attached
	Subs    int    // subscriptions and watches
	Dropped uint64 // pushes dropped so far because a client was slow
	Queued  int64  // bytes of pushes waiting, as counted for TotalQueueBytes
	Evicted uint64 // clients evicted so far (slow, or stalled)
}

// Stats returns the broker's current figures.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{Keys: len(b.kv), Bytes: b.bytes, Clients: len(b.conns), Queued: b.queued.Load(), Evicted: b.evicted}
	for c := range b.conns {
		s.Subs += len(c.subs)
		s.Dropped += c.dropped.Load()
	}
	return s
}

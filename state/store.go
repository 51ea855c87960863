package state

import (
	"context"
	"errors"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// Store is shared state: keys with values, counters, publish/subscribe
// and watches, the same for every worker of a cluster (embedded://) or of
// many machines (redis://). Its methods are safe for concurrent use.
type Store interface {
	// Get returns key's value, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key; it expires after ttl (0: never).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; removing an absent key is no error.
	Delete(ctx context.Context, key string) error
	// Incr adds delta to the decimal integer stored under key (an absent
	// key counts as 0), atomically, and returns the new value. The key
	// keeps its expiry. A value that is not a decimal integer, or an
	// overflow, is ErrNotInteger.
	Incr(ctx context.Context, key string, delta int64) (int64, error)
	// CompareAndSwap stores new under key if its value is old, atomically,
	// and reports whether it did. A nil old means "only if key is absent";
	// a nil new deletes the key. A swapped key keeps its expiry; a key
	// created by it has none.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error)
	// Keys lists the keys that begin with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Publish sends payload to every current subscriber of channel, in
	// every worker. Messages from one publisher arrive in publish order.
	Publish(ctx context.Context, channel string, payload []byte) error
	// Subscribe delivers the messages published on channels from now on,
	// until ctx is done; then the returned channel closes. A subscriber
	// that does not keep up loses the oldest messages past its buffer and
	// gets a notice (Msg.Err wrapping ErrDropped) where they were.
	Subscribe(ctx context.Context, channels ...string) (<-chan Msg, error)
	// Watch delivers every change to key from now on (set, delete,
	// expiry), in order, until ctx is done; then the channel closes. Slow
	// readers are treated as in Subscribe.
	Watch(ctx context.Context, key string) (<-chan Change, error)
	// Close ends the store's subscriptions and watches and releases its
	// resources; later calls fail with ErrClosed.
	Close() error
}

// Msg is a message received on a subscription, or a notice about the
// subscription (Err set, no Channel or Payload).
type Msg struct {
	Channel string
	Payload []byte
	// Err, in a notice, says that messages were lost just before this
	// point (errors.Is(Err, ErrDropped)): the subscriber was too slow, or
	// the Redis connection was lost and is being re-established. After a
	// notice that wraps ErrClosed the channel closes.
	Err error
}

// ChangeKind says what happened to a watched key.
type ChangeKind string

// The kinds of change.
const (
	ChangeSet    ChangeKind = "set"    // a new value (Set, Incr, CompareAndSwap)
	ChangeDelete ChangeKind = "delete" // Delete, or CompareAndSwap to nil
	ChangeExpire ChangeKind = "expire" // the TTL ran out
)

// Change is a change to a watched key, or a notice (Err set) as in Msg.
type Change struct {
	Key   string
	Kind  ChangeKind
	Value []byte // the new value, for ChangeSet
	Err   error
}

// The errors of a Store; test for them with errors.Is.
var (
	ErrNotFound   = errors.New("state: not found")
	ErrNotInteger = errors.New("state: value is not an integer or would overflow")
	ErrFull       = errors.New("state: store full")
	ErrTooLarge   = errors.New("state: too large")
	ErrClosed     = errors.New("state: store closed")
	ErrDropped    = errors.New("state: messages dropped")
	// ErrEvicted: the embedded store dropped this worker's connection
	// (it read too slowly, or nothing; the error says which), with its
	// subscriptions and watches, which end with it (it wraps ErrClosed
	// too). The next call connects again.
	ErrEvicted = errors.New("state: evicted by the store")
	// ErrConnLimit: the worker holds as many connections to the embedded
	// store as the primary allows (cluster.StateConfig.MaxConns).
	ErrConnLimit = errors.New("state: too many connections to the store for one worker")
)

// The size limits, the same for every backend.
const (
	MaxKeySize   = statewire.MaxName  // bytes in a key or channel name
	MaxValueSize = statewire.MaxValue // bytes in a value or payload
)

// DefaultBuffer is how many messages (or changes) a subscription (or
// watch) buffers for a slow reader before it drops the oldest; the URL's
// "buffer" parameter changes it.
const DefaultBuffer = 1024

// EnvURL is the environment variable that Open reads when its URL is ""
// (herd run --state sets it for the workers).
const EnvURL = "HERD_STATE_URL"

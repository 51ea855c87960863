package state

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/herdhq/herd/internal/statebroker"
	"github.com/herdhq/herd/internal/statewire"
)

// embedded is the Store of the embedded backend: a client of a broker,
// the primary's (over the worker's channel) or one of its own (local).
type embedded struct {
	l      *link                 // a local store's link
	dial   func() (*link, error) // a worker's: its link, made again once lost
	buffer int
	local  *statebroker.Broker // the broker of a local store

	mu     sync.Mutex
	closed bool
	subs   map[uint64]context.CancelFunc
	wg     sync.WaitGroup
}

func newEmbedded(l *link, buffer int) *embedded {
	return &embedded{l: l, buffer: buffer, subs: map[uint64]context.CancelFunc{}}
}

// openLocal returns an embedded store private to this process, with a
// broker of its own.
func openLocal(buffer int) (*embedded, error) {
	b := statebroker.New(statebroker.Limits{})
	nc, err := b.Connect()
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("state: %w", err)
	}
	l, err := newLink(nc, false)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("state: %w", err)
	}
	s := newEmbedded(l, buffer)
	s.local = b
	return s, nil
}

// conn returns the link to use: a worker's link is made again after
// the broker dropped it (ErrEvicted) or the connection was lost.
func (s *embedded) conn() (*link, error) {
	if s.dial == nil {
		return s.l, nil
	}
	return s.dial()
}

// do sends a request and turns an error response into an error.
func (s *embedded) do(ctx context.Context, req *statewire.Request) (*statewire.Response, error) {
	l, err := s.conn()
	if err != nil {
		return nil, err
	}
	return s.doOn(l, ctx, req)
}

// doOn is do on link l.
func (s *embedded) doOn(l *link, ctx context.Context, req *statewire.Request) (*statewire.Response, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	r, err := l.call(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("state: %s %q: %w", opName(req.Op), req.Key, err)
	}
	if r.Code != statewire.CodeOK {
		return nil, codeError(req, r)
	}
	return r, nil
}

// codeError is the error for a reply's error code.
func codeError(req *statewire.Request, r *statewire.Response) error {
	var base error
	switch r.Code {
	case statewire.CodeNotFound:
		return ErrNotFound
	case statewire.CodeNotInt:
		base = ErrNotInteger
	case statewire.CodeFull:
		base = ErrFull
	case statewire.CodeTooLarge:
		base = ErrTooLarge
	case statewire.CodeClosed:
		base = ErrClosed
	case statewire.CodeEvicted:
		base = fmt.Errorf("%w (%w)", ErrEvicted, ErrClosed)
	default:
		return fmt.Errorf("state: %s %q: error %d: %s", opName(req.Op), req.Key, r.Code, r.Msg)
	}
	if r.Msg == "" {
		return fmt.Errorf("state: %s %q: %w", opName(req.Op), req.Key, base)
	}
	return fmt.Errorf("state: %s %q: %w: %s", opName(req.Op), req.Key, base, r.Msg)
}

// opName names an operation in errors.
func opName(op byte) string {
	switch op {
	case statewire.OpGet:
		return "get"
	case statewire.OpSet:
		return "set"
	case statewire.OpDel:
		return "delete"
	case statewire.OpIncr:
		return "incr"
	case statewire.OpCAS:
		return "compare-and-swap"
	case statewire.OpKeys:
		return "keys"
	case statewire.OpPub:
		return "publish"
	case statewire.OpSub:
		return "subscribe"
	case statewire.OpWatch:
		return "watch"
	}
	return "unsubscribe"
}

func (s *embedded) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := s.do(ctx, &statewire.Request{Op: statewire.OpGet, Key: key})
	if err != nil {
		return nil, err
	}
	return nonNil(r.Val), nil
}

func (s *embedded) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkWrite(key, value, ttl); err != nil {
		return err
	}
	_, err := s.do(ctx, &statewire.Request{Op: statewire.OpSet, Key: key, Val: value, TTL: uint64(ttlMillis(ttl))})
	return err
}

func (s *embedded) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.do(ctx, &statewire.Request{Op: statewire.OpDel, Key: key})
	return err
}

func (s *embedded) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	r, err := s.do(ctx, &statewire.Request{Op: statewire.OpIncr, Key: key, N: delta})
	if err != nil {
		return 0, err
	}
	return r.N, nil
}

func (s *embedded) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if err := checkCAS(key, old, new); err != nil {
		return false, err
	}
	r, err := s.do(ctx, &statewire.Request{Op: statewire.OpCAS, Key: key,
		Old: old, NoOld: old == nil, Val: new, NoVal: new == nil})
	if err != nil {
		return false, err
	}
	return r.OK, nil
}

func (s *embedded) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	r, err := s.do(ctx, &statewire.Request{Op: statewire.OpKeys, Key: prefix})
	if err != nil {
		return nil, err
	}
	if r.Keys == nil {
		return []string{}, nil
	}
	return r.Keys, nil
}

func (s *embedded) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := checkWrite(channel, payload, 0); err != nil {
		return err
	}
	_, err := s.do(ctx, &statewire.Request{Op: statewire.OpPub, Key: channel, Val: payload})
	return err
}

func (s *embedded) Subscribe(ctx context.Context, channels ...string) (<-chan Msg, error) {
	if err := checkChannels(channels); err != nil {
		return nil, err
	}
	f := newFeed(s.buffer, msgNotice)
	conv := func(r *statewire.Response) Msg { return Msg{Channel: r.Ch, Payload: nonNil(r.Val)} }
	err := s.subscribe(ctx, f, &sink[Msg]{f: f, conv: conv},
		&statewire.Request{Op: statewire.OpSub, Chans: channels})
	if err != nil {
		return nil, err
	}
	return f.out, nil
}

func (s *embedded) Watch(ctx context.Context, key string) (<-chan Change, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f := newFeed(s.buffer, changeNotice(key))
	conv := func(r *statewire.Response) Change {
		c := Change{Key: r.Key, Kind: changeKind(r.Ev)}
		if c.Kind == ChangeSet {
			c.Value = nonNil(r.Val)
		}
		return c
	}
	err := s.subscribe(ctx, f, &sink[Change]{f: f, conv: conv},
		&statewire.Request{Op: statewire.OpWatch, Key: key})
	if err != nil {
		return nil, err
	}
	return f.out, nil
}

// runner is a feed's delivery loop.
type runner interface {
	run(ctx context.Context, cleanup func())
}

// subscribe registers a subscription or watch (req) whose pushes go to p,
// and starts delivering them (f) until ctx is done or the store closes.
func (s *embedded) subscribe(ctx context.Context, f runner, p pushee, req *statewire.Request) error {
	l, err := s.conn()
	if err != nil {
		return err
	}
	id := l.ids.Add(1)
	req.Sub = id
	l.addSub(id, p)
	if _, err := s.doOn(l, ctx, req); err != nil {
		l.removeSub(id)
		l.tell(&statewire.Request{Op: statewire.OpUnsub, Sub: id}) // in case it was registered
		return err
	}
	subCtx, cancel := context.WithCancel(ctx)
	if !s.track(id, cancel) {
		cancel()
	}
	go f.run(subCtx, func() {
		l.removeSub(id)
		l.tell(&statewire.Request{Op: statewire.OpUnsub, Sub: id})
		s.untrack(id)
		cancel()
	})
	return nil
}

// track records a running subscription, unless the store is closed.
func (s *embedded) track(id uint64, cancel context.CancelFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wg.Add(1)
	if s.closed {
		return false
	}
	s.subs[id] = cancel
	return true
}

func (s *embedded) untrack(id uint64) {
	s.mu.Lock()
	delete(s.subs, id)
	s.mu.Unlock()
	s.wg.Done()
}

// Close ends the store's subscriptions and waits for them; a local store
// also stops its broker.
func (s *embedded) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	for _, cancel := range s.subs {
		cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.local != nil {
		s.l.close()
		s.local.Close()
	}
	return nil
}

func msgNotice(err error) Msg { return Msg{Err: err} }

func changeNotice(key string) func(error) Change {
	return func(err error) Change { return Change{Key: key, Err: err} }
}

func changeKind(ev byte) ChangeKind {
	switch ev {
	case statewire.EvDel:
		return ChangeDelete
	case statewire.EvExpire:
		return ChangeExpire
	}
	return ChangeSet
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

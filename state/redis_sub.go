package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// subscribeTimeout bounds the wait for Redis to confirm a subscription.
	subscribeTimeout = 30 * time.Second
	// healthInterval is how long a quiet subscription waits before it
	// pings its connection; a ping unanswered for as long replaces it.
	healthInterval = 10 * time.Second
	maxBackoff     = 2 * time.Second
)

func (s *redisStore) Subscribe(ctx context.Context, channels ...string) (<-chan Msg, error) {
	if err := errors.Join(checkChannels(channels), s.live()); err != nil {
		return nil, err
	}
	f := newFeed(s.buffer, msgNotice)
	handle := func(m *redis.Message) { f.put(Msg{Channel: m.Channel, Payload: []byte(m.Payload)}, 0) }
	if err := s.subscribe(ctx, f, channels, handle, f.warn); err != nil {
		return nil, wrap("subscribe", strings.Join(channels, ","), err)
	}
	return f.out, nil
}

// Watch subscribes to the key's watch channel, where herd's scripts
// publish every write, and to its keyspace channel for expiry (which the
// server reports only when its notify-keyspace-events setting includes
// K and x; herd does not change the server's configuration).
func (s *redisStore) Watch(ctx context.Context, key string) (<-chan Change, error) {
	if err := errors.Join(checkKey(key), s.live()); err != nil {
		return nil, err
	}
	wc, kc := s.watchChannel(key), s.keyspaceChannel(key)
	f := newFeed(s.buffer, changeNotice(key))
	handle := func(m *redis.Message) {
		switch {
		case m.Channel == wc && strings.HasPrefix(m.Payload, "s"):
			f.put(Change{Key: key, Kind: ChangeSet, Value: []byte(m.Payload[1:])}, 0)
		case m.Channel == wc && m.Payload == "d":
			f.put(Change{Key: key, Kind: ChangeDelete}, 0)
		case m.Channel == kc && m.Payload == "expired":
			f.put(Change{Key: key, Kind: ChangeExpire}, 0)
		}
	}
	if err := s.subscribe(ctx, f, []string{wc, kc}, handle, f.warn); err != nil {
		return nil, wrap("watch", key, err)
	}
	return f.out, nil
}

// subscribe opens a subscription connection for channels, waits for
// Redis to confirm, and runs it (and f's delivery) until ctx is done or
// the store closes.
func (s *redisStore) subscribe(ctx context.Context, f runner, channels []string, handle func(*redis.Message), warn func(error)) error {
	chans := slices.Clone(channels)
	slices.Sort(chans)
	rs := &redisSub{c: s.c, chans: slices.Compact(chans), handle: handle, warn: warn}
	subCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(subCtx, rs.close)
	if err := rs.open(subCtx); err != nil {
		stop()
		cancel()
		rs.close()
		return err
	}
	id, ok := s.track(cancel)
	if !ok {
		cancel()
	}
	go func() {
		defer s.untrack(id)
		rs.loop(subCtx)
	}()
	go f.run(subCtx, func() {
		defer s.untrack(id)
		cancel()
	})
	return nil
}

// track records a running subscription (two goroutines), unless the store
// is closed.
func (s *redisStore) track(cancel context.CancelFunc) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wg.Add(2)
	s.nextID++
	if s.closed {
		return s.nextID, false
	}
	s.subs[s.nextID] = cancel
	return s.nextID, true
}

func (s *redisStore) untrack(id int64) {
	s.mu.Lock()
	delete(s.subs, id)
	s.mu.Unlock()
	s.wg.Done()
}

// redisSub is one subscription's connection, replaced when it dies.
type redisSub struct {
	c      *redis.Client
	chans  []string
	handle func(*redis.Message)
	warn   func(error)

	mu     sync.Mutex
	ps     *redis.PubSub
	closed bool
}

// open subscribes and waits for the confirmations.
func (r *redisSub) open(ctx context.Context) error {
	ps := r.replace(ctx)
	if ps == nil {
		return ctx.Err()
	}
	wait, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	for confirmed := 0; confirmed < len(r.chans); {
		m, err := ps.ReceiveTimeout(wait, subscribeTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		switch m := m.(type) {
		case *redis.Subscription:
			confirmed = m.Count
		case *redis.Message:
			r.handle(m)
		}
	}
	return nil
}

// replace closes the current connection and makes a new one (which
// connects on first use); it returns nil once the subscription is closed.
func (r *redisSub) replace(ctx context.Context) *redis.PubSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if r.ps != nil {
		r.ps.Close()
	}
	r.ps = r.c.Subscribe(ctx, r.chans...)
	return r.ps
}

func (r *redisSub) current() *redis.PubSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	return r.ps
}

func (r *redisSub) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.ps != nil {
		r.ps.Close()
	}
}

// loop receives until ctx is done. A broken connection is reported once
// (warn) and re-established, go-redis subscribing again; a quiet one is
// pinged, and replaced when the ping gets no answer.
func (r *redisSub) loop(ctx context.Context) {
	pinged, broken, backoff := false, false, 50*time.Millisecond
	for {
		ps := r.current()
		if ps == nil || ctx.Err() != nil {
			return
		}
		m, err := ps.ReceiveTimeout(ctx, healthInterval)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			pinged, backoff = false, 50*time.Millisecond
			switch m := m.(type) {
			case *redis.Message:
				broken = false
				r.handle(m)
			case *redis.Subscription:
				broken = false
			}
			continue
		}
		if isTimeout(err) && !pinged {
			pinged = true
			if ps.Ping(ctx) == nil {
				continue
			}
		}
		if !broken {
			broken = true
			r.warn(fmt.Errorf("state: redis subscription: connection lost: %w", err))
		}
		if pinged {
			pinged = false
			r.replace(ctx)
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d, or returns false when ctx is done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

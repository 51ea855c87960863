package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore is the Store of the Redis backend. Writes run as Lua scripts
// that also publish the change on the key's watch channel (see
// redis_scripts.go), so Watch sees every write made through herd, with
// its value, in order; expiry comes from Redis keyspace notifications.
type redisStore struct {
	c      *redis.Client
	sc     redisScripts
	db     int
	buffer int

	mu     sync.Mutex
	closed bool
	subs   map[int64]context.CancelFunc
	nextID int64
	wg     sync.WaitGroup
}

// openRedis connects to the server at u and checks it answers.
func openRedis(ctx context.Context, u *url.URL, buffer int) (Store, error) {
	opt, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", u.Redacted(), err)
	}
	if !u.Query().Has("max_retries") {
		opt.MaxRetries = -1 // a retried INCR could count twice: errors are returned
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("state: redis %s: %w", u.Redacted(), err)
	}
	return &redisStore{c: c, sc: newRedisScripts(), db: opt.DB, buffer: buffer, subs: map[int64]context.CancelFunc{}}, nil
}

// watchChannel is where herd's scripts publish the changes to key. Redis
// channels are shared by all databases of a server, so it names the db.
func (s *redisStore) watchChannel(key string) string {
	return "herd:watch:" + strconv.Itoa(s.db) + ":" + key
}

// keyspaceChannel is Redis's own notification channel for key.
func (s *redisStore) keyspaceChannel(key string) string {
	return "__keyspace@" + strconv.Itoa(s.db) + "__:" + key
}

func (s *redisStore) live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// wrap describes a failed command.
func wrap(op, key string, err error) error {
	switch {
	case strings.Contains(err.Error(), "not an integer") || strings.Contains(err.Error(), "overflow"):
		err = fmt.Errorf("%w: %w", ErrNotInteger, err)
	case errors.Is(err, redis.ErrClosed):
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("state: redis %s %q: %w", op, key, err)
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := errors.Join(checkKey(key), s.live()); err != nil {
		return nil, err
	}
	v, err := s.c.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, wrap("get", key, err)
	}
	return v, nil
}

func (s *redisStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := errors.Join(checkWrite(key, value, ttl), s.live()); err != nil {
		return err
	}
	err := s.sc.set.Run(ctx, s.c, []string{key}, value, ttlMillis(ttl), s.watchChannel(key)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrap("set", key, err)
	}
	return nil
}

func (s *redisStore) Delete(ctx context.Context, key string) error {
	if err := errors.Join(checkKey(key), s.live()); err != nil {
		return err
	}
	if err := s.sc.del.Run(ctx, s.c, []string{key}, s.watchChannel(key)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return wrap("delete", key, err)
	}
	return nil
}

func (s *redisStore) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := errors.Join(checkKey(key), s.live()); err != nil {
		return 0, err
	}
	v, err := s.sc.incr.Run(ctx, s.c, []string{key}, delta, s.watchChannel(key)).Text()
	if err != nil {
		return 0, wrap("incr", key, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, wrap("incr", key, err)
	}
	return n, nil
}

func (s *redisStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	if err := errors.Join(checkCAS(key, old, new), s.live()); err != nil {
		return false, err
	}
	n, err := s.sc.cas.Run(ctx, s.c, []string{key}, flag(old != nil), nonNil(old), flag(new != nil), nonNil(new),
		s.watchChannel(key)).Int()
	if err != nil {
		return false, wrap("compare-and-swap", key, err)
	}
	return n == 1, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (s *redisStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := errors.Join(checkKey(prefix), s.live()); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []string{}
	iter := s.c.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, wrap("keys", prefix, err)
	}
	slices.Sort(out)
	return out, nil
}

// globEscape quotes the characters that are special in a SCAN pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *redisStore) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := errors.Join(checkWrite(channel, payload, 0), s.live()); err != nil {
		return err
	}
	if err := s.c.Publish(ctx, channel, payload).Err(); err != nil {
		return wrap("publish", channel, err)
	}
	return nil
}

// Close ends the subscriptions, waits for them and closes the client.
func (s *redisStore) Close() error {
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
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("state: redis close: %w", err)
	}
	return nil
}

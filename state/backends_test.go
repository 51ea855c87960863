package state_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// backend is one of the store's backends, as the conformance tests see
// it: every test runs against each.
type backend struct {
	name  string
	start func(tb testing.TB) *env
}

// env is a backend made ready for one test.
type env struct {
	url   string
	redis *redisServer // the Redis backend's server
}

var backends = []backend{
	{"embedded", func(testing.TB) *env { return &env{url: "embedded://"} }},
	{"redis", func(tb testing.TB) *env {
		r := startRedis(tb)
		return &env{url: r.URL(), redis: r}
	}},
}

// forBackends runs test against every backend, checking each run for
// leaked goroutines and descriptors.
func forBackends(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			testutil.CheckFDs(t)
			test(t, b.start(t))
		})
	}
}

// subscriptions counts the subscriptions and watches the store holds:
// for the embedded store all of them, for Redis those on channels.
func (e *env) subscriptions(t *testing.T, a *agents, channels ...string) int {
	t.Helper()
	if e.redis == nil {
		st, err := a.p.StateStats()
		if err != nil {
			t.Fatal(err)
		}
		return st.Subscriptions
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(e.redis.port)})
	defer c.Close()
	counts, err := c.PubSubNumSub(context.Background(), channels...).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range counts {
		n += int(v)
	}
	return n
}

package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/state"
)

// TestRedisReconnects: when the server goes away, calls fail with the
// connection's error (not ErrNotFound, not silence), a subscription gets
// a notice, and both work again once the server is back.
func TestRedisReconnects(t *testing.T) {
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	r := startRedis(t)
	ctx := context.Background()
	st, err := state.Open(ctx, r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, err := st.Subscribe(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	changes, err := st.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, "k", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if c := <-changes; c.Kind != state.ChangeSet || string(c.Value) != "1" {
		t.Fatalf("change %+v", c)
	}

	r.kill()
	_, err = st.Get(ctx, "k")
	if err == nil || errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get with the server down: %v", err)
	}
	t.Logf("with the server down: %v", err)
	if m := next(t, msgs); !errors.Is(m.Err, state.ErrDropped) {
		t.Fatalf("the subscription got %+v, want a notice", m)
	}

	r.restart()
	testutil.Eventually(t, "Set to work again", func() bool { return st.Set(ctx, "k", []byte("2"), 0) == nil })
	testutil.Eventually(t, "the subscription to come back", func() bool {
		if err := st.Publish(ctx, "news", []byte("back")); err != nil {
			return false
		}
		select {
		case m := <-msgs:
			return m.Err == nil && string(m.Payload) == "back"
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	testutil.Eventually(t, "the watch to come back", func() bool {
		if err := st.Set(ctx, "k", []byte("3"), 0); err != nil {
			return false
		}
		for {
			select {
			case c := <-changes:
				if c.Err == nil && string(c.Value) == "3" {
					return true
				}
			case <-time.After(100 * time.Millisecond):
				return false
			}
		}
	})
}

func next(t *testing.T, msgs <-chan state.Msg) state.Msg {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(time.Minute):
		t.Fatal("no message in a minute")
		return state.Msg{}
	}
}

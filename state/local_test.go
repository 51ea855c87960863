package state_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/state"
)

// openLocal opens an embedded store in this process (which is no cluster
// worker): a store of its own.
func openLocal(t *testing.T, url string) state.Store {
	t.Helper()
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	st, err := state.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestOpenURLs(t *testing.T) {
	t.Setenv(state.EnvURL, "")
	for _, bad := range []string{"memcached://x", "embedded://host", "embedded:///path", "embedded://?buffer=0",
		"embedded://?buffer=x", "embedded://?other=1", "redis://127.0.0.1:1/0?buffer=-1", "::"} {
		if st, err := state.Open(context.Background(), bad); err == nil {
			st.Close()
			t.Fatalf("Open(%q) succeeded", bad)
		} else if !strings.HasPrefix(err.Error(), "state: ") {
			t.Fatalf("Open(%q): %v", bad, err)
		}
	}
	st, err := state.Open(context.Background(), "redis://127.0.0.1:1/0?dial_timeout=1s")
	if err == nil {
		st.Close()
		t.Fatal("Open of a Redis that is not there succeeded")
	}
	t.Logf("no Redis: %v", err)
	t.Setenv(state.EnvURL, "embedded://?buffer=8")
	openLocal(t, "") // HERD_STATE_URL
}

func TestLocalStore(t *testing.T) {
	st := openLocal(t, "embedded://")
	ctx := context.Background()
	if _, err := st.Get(ctx, "absent"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get of an absent key: %v", err)
	}
	if err := st.Set(ctx, "empty", nil, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "empty"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("the empty value came back as %q, %v", v, err)
	}
	st.Set(ctx, "text", []byte("x"), 0)
	if _, err := st.Incr(ctx, "text", 1); !errors.Is(err, state.ErrNotInteger) {
		t.Fatalf("Incr of text: %v", err)
	}
	if err := st.Set(ctx, "k", []byte("v"), -time.Second); err == nil {
		t.Fatal("a negative TTL was accepted")
	}
	if err := st.Set(ctx, "big", make([]byte, state.MaxValueSize+1), 0); !errors.Is(err, state.ErrTooLarge) {
		t.Fatalf("a value over the limit: %v", err)
	}
	if err := st.Set(ctx, strings.Repeat("k", state.MaxKeySize+1), nil, 0); !errors.Is(err, state.ErrTooLarge) {
		t.Fatalf("a key over the limit: %v", err)
	}
	if _, err := st.Subscribe(ctx); err == nil {
		t.Fatal("Subscribe to no channel succeeded")
	}
	if keys, err := st.Keys(ctx, "nothing"); err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("Keys of nothing: %v, %v", keys, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Get(canceled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context: %v", err)
	}
}

func TestSubscriptionEndsWithItsContextOrTheStore(t *testing.T) {
	st := openLocal(t, "embedded://")
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := st.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	changes, err := st.Watch(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range msgs {
	}
	st.Close()
	for range changes {
	}
	if err := st.Set(context.Background(), "k", nil, 0); !errors.Is(err, state.ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
	if err := st.Close(); !errors.Is(err, state.ErrClosed) {
		t.Fatalf("a second Close: %v", err)
	}
}

// TestSlowSubscriberGetsANotice: a reader that falls more than its buffer
// behind loses the oldest messages, and is told where.
func TestSlowSubscriberGetsANotice(t *testing.T) {
	st := openLocal(t, "embedded://?buffer=4")
	ctx := context.Background()
	msgs, err := st.Subscribe(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := 0; i < n; i++ {
		if err := st.Publish(ctx, "c", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	notices, got, prev := 0, 0, -1
	for prev != n-1 {
		select {
		case m := <-msgs:
			if m.Err != nil {
				if !errors.Is(m.Err, state.ErrDropped) {
					t.Fatalf("notice %v", m.Err)
				}
				notices++
				continue
			}
			i, _ := strconv.Atoi(string(m.Payload))
			if i <= prev {
				t.Fatalf("message %d after %d", i, prev)
			}
			prev = i
			got++
		case <-time.After(time.Minute):
			t.Fatalf("message %d never came", n-1)
		}
	}
	if notices == 0 || got == n {
		t.Fatalf("%d of %d messages and %d notices", got, n, notices)
	}
	t.Logf("%d of %d messages, %d notices", got, n, notices)
}

// TestLocalStoreUnderCancellation: concurrent calls, a third of them with
// contexts that end while they wait (the one reading the socket for the
// others among them), and a subscription fed meanwhile: every call
// returns, what succeeded was applied, and the messages come in order.
func TestLocalStoreUnderCancellation(t *testing.T) {
	st := openLocal(t, "embedded://?buffer=100000")
	ctx := context.Background()
	msgs, err := st.Subscribe(ctx, "seq")
	if err != nil {
		t.Fatal(err)
	}
	const workers, calls = 8, 500
	var wg sync.WaitGroup
	var applied atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				cctx, cancel := ctx, context.CancelFunc(func() {})
				if i%3 == 0 {
					cctx, cancel = context.WithTimeout(ctx, time.Duration(i%7)*20*time.Microsecond)
				}
				if _, err := st.Incr(cctx, "n", 1); err == nil {
					applied.Add(1)
				} else if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("incr: %v", err)
				}
				cancel()
				if err := st.Publish(ctx, "seq", []byte(strconv.Itoa(w*calls+i))); err != nil {
					t.Errorf("publish: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	v, err := st.Get(ctx, "n")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d increments succeeded", applied.Load(), workers*calls)
	if n, _ := strconv.ParseInt(string(v), 10, 64); n < applied.Load() || n > workers*calls {
		t.Fatalf("n is %d after %d successful increments of %d", n, applied.Load(), workers*calls)
	}
	last := make([]int, workers)
	for i := range last {
		last[i] = -1
	}
	for got := 0; got < workers*calls; got++ {
		select {
		case m := <-msgs:
			if m.Err != nil {
				t.Fatalf("notice %v", m.Err)
			}
			k, _ := strconv.Atoi(string(m.Payload))
			if w, i := k/calls, k%calls; i <= last[w] {
				t.Fatalf("message %d of publisher %d after %d", i, w, last[w])
			} else {
				last[w] = i
			}
		case <-time.After(time.Minute):
			t.Fatalf("%d of %d messages", got, workers*calls)
		}
	}
}

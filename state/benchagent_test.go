package state_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/state"
	"github.com/redis/go-redis/v9"
)

// The benchmark side of the agent: load from Conc goroutines, with every
// operation's latency recorded in a histogram.

// benchResult is what one worker measured.
type benchResult struct {
	Ops     int64         `json:"ops"`
	Elapsed time.Duration `json:"elapsed"`
	Hist    []uint32      `json:"hist"`
	Notices int64         `json:"notices,omitempty"` // pub: loss notices received
}

// histogram buckets latencies in steps of 2%, from 100 ns.
const (
	histBase  = 100.0 // ns
	histStep  = 1.02
	histSlots = 1300
)

func histSlot(d time.Duration) int {
	if float64(d) <= histBase {
		return 0
	}
	return min(int(math.Log(float64(d)/histBase)/math.Log(histStep))+1, histSlots-1)
}

// histValue is the upper bound of a slot.
func histValue(slot int) time.Duration {
	return time.Duration(histBase * math.Pow(histStep, float64(slot)))
}

type histogram struct {
	mu sync.Mutex
	h  []uint32
}

func (h *histogram) add(local []uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		h.h = make([]uint32, histSlots)
	}
	for i, n := range local {
		h.h[i] += n
	}
}

// bench runs N operations of kind Key (get, set, incr, pub) over Conc
// goroutines, through the store or, with Raw, plain go-redis commands.
func (a *agent) bench(c command) (*benchResult, error) {
	op, err := a.benchOp(c)
	if err != nil {
		return nil, err
	}
	defer profile(c.Key)()
	conc := max(c.Conc, 1)
	var hist histogram
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		n := c.N / conc
		if g < c.N%conc {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]uint32, histSlots)
			ctx := context.Background()
			for i := 0; i < n; i++ {
				t0 := time.Now()
				if err := op(ctx, g, i); err != nil {
					failed.Store(err)
					return
				}
				local[histSlot(time.Since(t0))]++
			}
			hist.add(local)
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	return &benchResult{Ops: int64(c.N), Elapsed: time.Since(start), Hist: hist.h}, nil
}

var benchValue = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

// benchOp returns one operation of the benchmark.
func (a *agent) benchOp(c command) (func(ctx context.Context, g, i int) error, error) {
	st := a.st
	if c.Raw {
		return a.rawOp(c)
	}
	key := func(g, i int) string { return "bench:" + strconv.Itoa((g*7919+i)%1000) }
	switch c.Key {
	case "set":
		return func(ctx context.Context, g, i int) error { return st.Set(ctx, key(g, i), benchValue, 0) }, nil
	case "get":
		return func(ctx context.Context, g, i int) error {
			_, err := st.Get(ctx, key(g, i))
			if errors.Is(err, state.ErrNotFound) {
				return nil
			}
			return err
		}, nil
	case "incr":
		return func(ctx context.Context, g, i int) error {
			_, err := st.Incr(ctx, "bench:counter:"+strconv.Itoa(g%16), 1)
			return err
		}, nil
	case "pub":
		ch := c.Chans[0]
		return func(ctx context.Context, g, i int) error {
			return st.Publish(ctx, ch, strconv.AppendInt(nil, time.Now().UnixNano(), 10))
		}, nil
	}
	return nil, fmt.Errorf("unknown benchmark %q", c.Key)
}

// rawOp is the same load through go-redis's own commands (GET, SET,
// INCR), without herd's scripts: the baseline.
func (a *agent) rawOp(c command) (func(ctx context.Context, g, i int) error, error) {
	a.mu.Lock()
	if a.raw == nil {
		opt, err := redis.ParseURL(strings.Split(a.url, "?")[0]) // without herd's buffer option
		if err != nil {
			a.mu.Unlock()
			return nil, err
		}
		a.raw = redis.NewClient(opt)
	}
	rc := a.raw
	a.mu.Unlock()
	key := func(g, i int) string { return "bench:" + strconv.Itoa((g*7919+i)%1000) }
	switch c.Key {
	case "set":
		return func(ctx context.Context, g, i int) error { return rc.Set(ctx, key(g, i), benchValue, 0).Err() }, nil
	case "get":
		return func(ctx context.Context, g, i int) error {
			if err := rc.Get(ctx, key(g, i)).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			return nil
		}, nil
	case "incr":
		return func(ctx context.Context, g, i int) error {
			return rc.Incr(ctx, "bench:raw:"+strconv.Itoa(g%16)).Err()
		}, nil
	}
	return nil, fmt.Errorf("no raw benchmark %q", c.Key)
}

// benchSub subscribes to Chans and records, for the next N messages, the
// latency from the publisher's timestamp (the payload) to delivery.
func (a *agent) benchSub(c command) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	msgs, err := a.st.Subscribe(ctx, c.Chans...)
	if err != nil {
		cancel()
		return err
	}
	done := make(chan *benchResult, 1)
	a.mu.Lock()
	a.benchSubs[c.Chans[0]] = done
	a.mu.Unlock()
	go func() {
		defer cancel()
		done <- receiveTimed(msgs, c.N)
	}()
	return nil
}

// receiveIdle is how long a benchmark subscriber waits for a message
// before it takes the rest for lost.
const receiveIdle = 5 * time.Second

// receiveTimed reads n messages (or until receiveIdle passes with none).
func receiveTimed(msgs <-chan state.Msg, n int) *benchResult {
	r := &benchResult{Hist: make([]uint32, histSlots)}
	var first time.Time
	idle := time.NewTimer(receiveIdle)
	defer idle.Stop()
	for r.Ops < int64(n) {
		select {
		case m := <-msgs:
			if m.Err != nil {
				r.Notices++
				continue
			}
			sent, _ := strconv.ParseInt(string(m.Payload), 10, 64)
			now := time.Now()
			if first.IsZero() {
				first = time.Unix(0, sent)
			}
			r.Hist[histSlot(now.Sub(time.Unix(0, sent)))]++
			r.Ops++
			r.Elapsed = now.Sub(first)
			idle.Reset(receiveIdle)
		case <-idle.C:
			return r
		}
	}
	return r
}

// benchCollect waits for the subscription to Key to finish.
func (a *agent) benchCollect(ctx context.Context, ch string) (*benchResult, error) {
	a.mu.Lock()
	done := a.benchSubs[ch]
	delete(a.benchSubs, ch)
	a.mu.Unlock()
	if done == nil {
		return nil, fmt.Errorf("no benchmark subscription to %q", ch)
	}
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// profile writes a CPU profile of the benchmark to the directory in
// HERD_TEST_PROFILE, if set, named for the operation and the pid; the
// returned function ends it.
func profile(op string) func() {
	dir := os.Getenv("HERD_TEST_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, op+"-"+strconv.Itoa(os.Getpid())+".prof"))
	if err != nil || pprof.StartCPUProfile(f) != nil {
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

package state_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/state"
	"github.com/redis/go-redis/v9"
)

// The agent is the worker process of these tests: a cluster worker that
// opens the store named by HERD_STATE_URL and carries out the commands
// the test (its primary) sends as user messages, each on a goroutine of
// its own, answering each with a result.

// command is a test's request to an agent.
type command struct {
	ID    int64         `json:"id"`
	Op    string        `json:"op"`
	Key   string        `json:"key,omitempty"`
	Val   *string       `json:"val,omitempty"`
	Old   *string       `json:"old,omitempty"`
	N     int           `json:"n,omitempty"`
	TTL   time.Duration `json:"ttl,omitempty"`
	Chans []string      `json:"chans,omitempty"`
	File  string        `json:"file,omitempty"`
	Conc  int           `json:"conc,omitempty"`
	Raw   bool          `json:"raw,omitempty"` // bench: plain go-redis commands
}

// result is an agent's answer to a command.
type result struct {
	ID       int64        `json:"id"`
	Worker   int          `json:"worker"`
	Err      string       `json:"err,omitempty"`
	NotFound bool         `json:"notFound,omitempty"`
	Val      string       `json:"val,omitempty"`
	N        int64        `json:"n,omitempty"`
	OK       bool         `json:"ok,omitempty"`
	Keys     []string     `json:"keys,omitempty"`
	Items    []string     `json:"items,omitempty"`
	Wins     []int        `json:"wins,omitempty"`
	Bench    *benchResult `json:"bench,omitempty"`
}

type agent struct {
	st      state.Store
	openErr error // Open's error: every command fails with it
	id      int
	ch      *ipc.Channel
	url     string

	mu         sync.Mutex
	collectors map[string]*collector
	benchSubs  map[string]chan *benchResult
	raw        *redis.Client // the baseline benchmarks' client
}

// collector gathers what a subscription or watch receives.
type collector struct {
	want  int
	done  chan struct{}
	mu    sync.Mutex
	items []string
}

func runAgent() {
	ctx := context.Background()
	st, err := state.Open(ctx, "")
	a := &agent{st: st, openErr: err, id: cluster.WorkerID(), ch: cluster.Channel(), url: os.Getenv(state.EnvURL),
		collectors: map[string]*collector{}, benchSubs: map[string]chan *benchResult{}}
	if err := cluster.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(3)
	}
	for m := range a.ch.Messages() {
		var c command
		if m.Decode(&c) == nil {
			go a.exec(c)
		}
	}
}

func (a *agent) exec(c command) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := a.run(ctx, c)
	r.ID, r.Worker = c.ID, a.id
	a.ch.Send(r)
}

func (a *agent) run(ctx context.Context, c command) result {
	var r result
	var err error
	if a.openErr != nil {
		return result{Err: "open: " + a.openErr.Error()}
	}
	switch c.Op {
	case "get":
		var v []byte
		v, err = a.st.Get(ctx, c.Key)
		r.Val, r.NotFound = string(v), errors.Is(err, state.ErrNotFound)
		if r.NotFound {
			err = nil
		}
	case "set":
		err = a.st.Set(ctx, c.Key, bytesOf(c.Val), c.TTL)
	case "del":
		err = a.st.Delete(ctx, c.Key)
	case "cas":
		r.OK, err = a.st.CompareAndSwap(ctx, c.Key, bytesOf(c.Old), bytesOf(c.Val))
	case "keys":
		r.Keys, err = a.st.Keys(ctx, c.Key)
	case "incrN":
		r.N, err = a.incrN(ctx, c.Key, c.N)
	case "casIncr":
		r.N, err = a.casIncr(ctx, c.Key, c.N)
	case "casRace":
		r.Wins, err = a.casRace(ctx, c.Key, c.N)
	case "pubN":
		err = a.pubN(ctx, c.Chans[0], c.N)
	case "pubBig":
		err = a.pubBig(ctx, c.Chans[0], c.N)
	case "pubEach":
		err = a.pubEach(ctx, c.Chans, c.N)
	case "sub", "watch":
		err = a.collect(ctx, c)
	case "collect":
		r.Items, err = a.collected(ctx, c.Key)
	case "peek":
		r.Items, err = a.peek(c.Key)
	case "scribble":
		err = a.scribble(ctx, c.Key, c.File)
	case "bench":
		r.Bench, err = a.bench(c)
	case "benchSub":
		err = a.benchSub(c)
	case "benchCollect":
		r.Bench, err = a.benchCollect(ctx, c.Chans[0])
	default:
		err = fmt.Errorf("unknown op %q", c.Op)
	}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// incrN adds 1 to key n times and returns the last value.
func (a *agent) incrN(ctx context.Context, key string, n int) (last int64, err error) {
	for i := 0; i < n; i++ {
		if last, err = a.st.Incr(ctx, key, 1); err != nil {
			return last, err
		}
	}
	return last, nil
}

// casIncr adds 1 to key n times with read/compare-and-swap loops and
// returns how many swaps failed on the way.
func (a *agent) casIncr(ctx context.Context, key string, n int) (retries int64, err error) {
	for i := 0; i < n; i++ {
		for {
			cur, err := a.st.Get(ctx, key)
			var old []byte
			v := 0
			if err == nil {
				old = cur
				v, _ = strconv.Atoi(string(cur))
			} else if !errors.Is(err, state.ErrNotFound) {
				return retries, err
			}
			ok, err := a.st.CompareAndSwap(ctx, key, old, []byte(strconv.Itoa(v+1)))
			if err != nil {
				return retries, err
			}
			if ok {
				break
			}
			retries++
		}
	}
	return retries, nil
}

// casRace tries to create key:0 ... key:n-1, each only if absent, and
// returns the ones it created.
func (a *agent) casRace(ctx context.Context, key string, n int) ([]int, error) {
	wins := []int{}
	for i := 0; i < n; i++ {
		ok, err := a.st.CompareAndSwap(ctx, key+":"+strconv.Itoa(i), nil, []byte(strconv.Itoa(a.id)))
		if err != nil {
			return wins, err
		}
		if ok {
			wins = append(wins, i)
		}
	}
	return wins, nil
}

// pubN publishes "WORKER:I" for I from 0 to n-1.
func (a *agent) pubN(ctx context.Context, channel string, n int) error {
	for i := 0; i < n; i++ {
		if err := a.st.Publish(ctx, channel, []byte(strconv.Itoa(a.id)+":"+strconv.Itoa(i))); err != nil {
			return err
		}
	}
	return nil
}

// pubBig publishes n messages of 16 KiB that end in ":I".
func (a *agent) pubBig(ctx context.Context, channel string, n int) error {
	pad := strings.Repeat("x", 16<<10)
	for i := 0; i < n; i++ {
		if err := a.st.Publish(ctx, channel, []byte(pad+":"+strconv.Itoa(i))); err != nil {
			return err
		}
	}
	return nil
}

// collect subscribes (op sub, to Chans) or watches (op watch, Key) and
// gathers N items in the background, under the name Key (sub) or the
// watched key; a notice is gathered as "!" and its error.
func (a *agent) collect(ctx context.Context, c command) error {
	col := &collector{want: c.N, done: make(chan struct{})}
	subCtx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var items <-chan string
	var err error
	if c.Op == "sub" {
		items, err = subscribeItems(subCtx, a.st, c.Chans)
	} else {
		items, err = watchItems(subCtx, a.st, c.Key)
	}
	if err != nil {
		cancel()
		return err
	}
	a.mu.Lock()
	a.collectors[c.Key] = col
	a.mu.Unlock()
	go func() {
		defer cancel()
		defer close(col.done)
		for it := range items {
			col.mu.Lock()
			col.items = append(col.items, it)
			n := len(col.items)
			col.mu.Unlock()
			if n >= col.want {
				return
			}
		}
	}()
	return nil
}

func subscribeItems(ctx context.Context, st state.Store, chans []string) (<-chan string, error) {
	msgs, err := st.Subscribe(ctx, chans...)
	if err != nil {
		return nil, err
	}
	out := make(chan string)
	go func() {
		defer close(out)
		for m := range msgs {
			s := m.Channel + "=" + string(m.Payload)
			if m.Err != nil {
				s = "!" + m.Err.Error()
			}
			out <- s
		}
	}()
	return out, nil
}

func watchItems(ctx context.Context, st state.Store, key string) (<-chan string, error) {
	changes, err := st.Watch(ctx, key)
	if err != nil {
		return nil, err
	}
	out := make(chan string)
	go func() {
		defer close(out)
		for c := range changes {
			s := string(c.Kind)
			if c.Kind == state.ChangeSet {
				s += "=" + string(c.Value)
			}
			if c.Err != nil {
				s = "!" + c.Err.Error()
			}
			out <- s
		}
	}()
	return out, nil
}

// collected waits for the collector name to be done and returns its items.
func (a *agent) collected(ctx context.Context, name string) ([]string, error) {
	a.mu.Lock()
	col := a.collectors[name]
	a.mu.Unlock()
	if col == nil {
		return nil, fmt.Errorf("no collector %q", name)
	}
	select {
	case <-col.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.items, nil
}

// scribble writes key:I and increments key:count, for I from 1 on, and
// after each acknowledged pair appends "I COUNT" to file, until the
// process is killed.
func (a *agent) scribble(ctx context.Context, key, file string) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for i := 1; ; i++ {
		if err := a.st.Set(ctx, key+":"+strconv.Itoa(i), []byte("v"), 0); err != nil {
			return err
		}
		n, err := a.st.Incr(ctx, key+":count", 1)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(f, "%d %d\n", i, n); err != nil {
			return err
		}
	}
}

// peek returns what the collector name gathered so far.
func (a *agent) peek(name string) ([]string, error) {
	a.mu.Lock()
	col := a.collectors[name]
	a.mu.Unlock()
	if col == nil {
		return nil, fmt.Errorf("no collector %q", name)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]string(nil), col.items...), nil
}

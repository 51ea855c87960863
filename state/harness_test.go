package state_test

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
	"github.com/herdhq/herd/state"
)

func TestMain(m *testing.M) {
	testutil.Main(m, testutil.Helpers{"agent": runAgent, "hostile": runHostile})
}

// callTimeout bounds one command; generous, for a busy machine.
const callTimeout = 3 * time.Minute

// agents is a real cluster primary, in the test process, whose workers
// are agents (re-executions of the test binary) using the store at url.
type agents struct {
	tb     testing.TB
	p      *cluster.Primary
	url    string
	cancel context.CancelFunc
	errc   chan error
	ready  chan int

	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan result
}

// startAgents runs n agents on the store at url and waits until all are
// ready.
func startAgents(tb testing.TB, url string, n int) *agents {
	tb.Helper()
	return startAgentsWith(tb, url, n, nil)
}

// startAgentsWith is startAgents with the cluster's configuration changed
// by tune first.
func startAgentsWith(tb testing.TB, url string, n int, tune func(*cluster.Config)) *agents {
	tb.Helper()
	a := &agents{tb: tb, url: url, errc: make(chan error, 1), ready: make(chan int, 64), waiting: map[int64]chan result{}}
	cfg := cluster.Config{
		Workers:     n,
		Readiness:   cluster.ReadyExplicit,
		NoSignals:   true,
		MaxRestarts: -1,
		KillTimeout: 10 * time.Second,
		Command:     a.command,
		OnEvent:     a.event,
		OnMessage:   a.message,
	}
	if tune != nil {
		tune(&cfg)
	}
	a.p = cluster.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.errc <- a.p.Run(ctx) }()
	tb.Cleanup(a.stop)
	for i := 0; i < n; i++ {
		a.waitReady()
	}
	return a
}

func (a *agents) command(int) *proc.Cmd {
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv("agent", state.EnvURL+"="+a.url)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return c
}

func (a *agents) event(e cluster.Event) {
	if e.Type == cluster.EventReady {
		a.ready <- e.WorkerID
	}
}

// waitReady waits for the next worker to become ready and returns its id.
func (a *agents) waitReady() int {
	a.tb.Helper()
	select {
	case id := <-a.ready:
		return id
	case <-time.After(60 * time.Second):
		a.tb.Fatal("no worker became ready in 60s")
		return 0
	}
}

func (a *agents) message(_ cluster.WorkerInfo, m *ipc.Message) {
	m.CloseHandle()
	var r result
	if json.Unmarshal(m.Data, &r) != nil {
		return
	}
	a.mu.Lock()
	c := a.waiting[r.ID]
	delete(a.waiting, r.ID)
	a.mu.Unlock()
	if c != nil {
		c <- r
	}
}

// stop stops the primary and waits for it.
func (a *agents) stop() {
	a.cancel()
	select {
	case err := <-a.errc:
		a.errc <- err
		if err != nil {
			a.tb.Errorf("primary: %v", err)
		}
	case <-time.After(60 * time.Second):
		a.tb.Error("the primary did not stop in 60s")
	}
}

// ids lists the live workers' ids, in order.
func (a *agents) ids() []int {
	a.tb.Helper()
	ws, err := a.p.Workers()
	if err != nil {
		a.tb.Fatal(err)
	}
	out := make([]int, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

// send sends c to worker and returns where its result will come.
func (a *agents) send(worker int, c command) <-chan result {
	a.mu.Lock()
	a.nextID++
	c.ID = a.nextID
	res := make(chan result, 1)
	a.waiting[c.ID] = res
	a.mu.Unlock()
	if err := a.p.Send(worker, c); err != nil {
		res <- result{ID: c.ID, Worker: worker, Err: "send: " + err.Error()}
	}
	return res
}

// call runs c on worker and returns its result; an error result fails
// the test.
func (a *agents) call(worker int, c command) result {
	a.tb.Helper()
	r := a.wait(a.send(worker, c), c)
	if r.Err != "" {
		a.tb.Fatalf("worker %d: %s %q: %s", worker, c.Op, c.Key, r.Err)
	}
	return r
}

func (a *agents) wait(res <-chan result, c command) result {
	a.tb.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(callTimeout):
		a.tb.Fatalf("no answer to %s %q in %s", c.Op, c.Key, callTimeout)
		return result{}
	}
}

// each runs c on every given worker at once and returns the results in
// the same order.
func (a *agents) each(workers []int, c command) []result {
	a.tb.Helper()
	chans := make([]<-chan result, len(workers))
	for i, w := range workers {
		chans[i] = a.send(w, c)
	}
	out := make([]result, len(workers))
	for i, ch := range chans {
		out[i] = a.wait(ch, c)
		if out[i].Err != "" {
			a.tb.Fatalf("worker %d: %s %q: %s", workers[i], c.Op, c.Key, out[i].Err)
		}
	}
	return out
}

func str(s string) *string { return &s }

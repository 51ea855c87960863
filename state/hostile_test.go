package state_test

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"context"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// runHostile is a worker that speaks the store's wire itself, as an
// attacker would: it asks for thousands of connections ("flood"),
// subscribes on each and never reads ("deafsub"), and reports what the
// store did to them ("ends").
func runHostile() {
	ch := cluster.Channel()
	answers := make(chan *ipc.Message, 1<<14)
	cluster.HandleInternal(statewire.Cmd, func(m *ipc.Message) { answers <- m })
	if err := cluster.Ready(); err != nil {
		os.Exit(3)
	}
	var socks []net.Conn
	for m := range ch.Messages() {
		var c command
		if m.Decode(&c) != nil {
			continue
		}
		var r result
		switch c.Op {
		case "flood":
			socks, r = flood(ch, answers, c.N)
		case "deafsub":
			r = deafSub(socks)
		case "ends":
			r.Items = ends(socks)
		}
		r.ID = c.ID
		ch.Send(r)
	}
}

// flood asks for n connections at once and keeps those it gets; N is how
// many were refused for the cap.
func flood(ch *ipc.Channel, answers chan *ipc.Message, n int) ([]net.Conn, result) {
	for i := 1; i <= n; i++ {
		ch.Send(statewire.Hello{Cmd: statewire.Cmd, Op: statewire.OpConnect, ID: int64(i)})
	}
	var socks []net.Conn
	var r result
	for i := 0; i < n; i++ {
		m := <-answers
		w, _ := statewire.DecodeWelcome(m.Data)
		if nc, ok := m.Handle.(net.Conn); ok {
			socks = append(socks, nc)
		} else if w.Code == statewire.RefusedConnLimit {
			r.N++
		} else {
			r.Err = "an answer neither a socket nor a refusal for the cap: " + w.Err
		}
	}
	return socks, r
}

// deafSub subscribes each socket i to "deaf<i>" and reads its reply,
// then nothing more.
func deafSub(socks []net.Conn) result {
	for i, nc := range socks {
		req := statewire.Request{Op: statewire.OpSub, ID: 1, Sub: 1, Chans: []string{"deaf" + strconv.Itoa(i)}}
		if _, err := nc.Write(statewire.AppendRequest(nil, &req)); err != nil {
			return result{Err: err.Error()}
		}
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := statewire.NewReader(nc, 4096).Next(); err != nil {
			return result{Err: err.Error()}
		}
	}
	return result{OK: true}
}

// ends reads each socket to its end: "bye: why", "closed", or "open".
func ends(socks []net.Conn) []string {
	out := make([]string, len(socks))
	done := make(chan struct{}, len(socks))
	for i, nc := range socks {
		go func() {
			out[i] = end(nc)
			done <- struct{}{}
		}()
	}
	for range socks {
		<-done
	}
	return out
}

// end reads nc to its end (see ends), and closes it.
func end(nc net.Conn) (out string) {
	defer nc.Close()
	in := statewire.NewReader(bufio.NewReader(nc), 1<<20)
	out = "closed"
	for {
		nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		body, err := in.Next()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return "open"
			}
			return out
		}
		var r statewire.Response
		if statewire.ParseResponse(body, &r) == nil && r.Type == statewire.TypeBye {
			out = "bye: " + r.Msg
		}
	}
}

// pubEach publishes a payload of n bytes on each channel.
func (a *agent) pubEach(ctx context.Context, chans []string, n int) error {
	payload := make([]byte, n)
	for _, c := range chans {
		if err := a.st.Publish(ctx, c, payload); err != nil {
			return err
		}
	}
	return nil
}

// hostileFirst makes the cluster's first worker (id 1) run runHostile.
func hostileFirst(c *cluster.Config) {
	agent := c.Command
	c.Command = func(id int) *proc.Cmd {
		cmd := agent(id)
		if id == 1 {
			cmd.Env = testutil.HelperEnv("hostile")
		}
		return cmd
	}
}

// rss is this process's (the primary's) resident memory, in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHostileWorkerCannotExhaustStore: issue 12 row 4 on a real cluster.
// A worker asks for 3000 connections: it gets MaxConns, the rest are
// refused for the cap, and the primary's descriptors stay bounded; its 30
// connections subscribe and never read, and a good worker publishes
// 8 MiB on each: the store's queued bytes never pass the total bound,
// the deaf connections are evicted, the good worker keeps working, and
// the primary's memory comes back to within twice its idle size.
func TestHostileWorkerCannotExhaustStore(t *testing.T) {
	testutil.SkipIfRace(t, "it bounds the primary's RSS, which the race detector's shadow memory inflates")
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	const total = 32 << 20
	a := startAgentsWith(t, "embedded://", 2, func(c *cluster.Config) {
		c.State.MaxConns, c.State.TotalQueueBytes, c.State.StallTimeout = 30, total, 2*time.Second
		hostileFirst(c)
	})
	hostile, good := 1, a.ids()[1]
	a.call(good, command{Op: "set", Key: "k", Val: str("v")})
	idle, fds := rss(t), len(testutil.FDs())
	if r := a.call(hostile, command{Op: "flood", N: 3000}); r.N != 3000-30 {
		t.Fatalf("%d of 3000 connections refused for the cap, want %d", r.N, 3000-30)
	}
	if n := len(testutil.FDs()) - fds; n > 2*30+10 {
		t.Fatalf("%d more descriptors in the primary after the flood", n)
	}
	a.call(hostile, command{Op: "deafsub"})
	var chans []string
	for i := 0; i < 30; i++ {
		chans = append(chans, "deaf"+strconv.Itoa(i))
	}
	var peak atomic.Int64
	stop := watchQueued(t, a, &peak)
	a.call(good, command{Op: "pubEach", Chans: chans, N: 8 << 20})
	a.call(good, command{Op: "pubEach", Chans: chans, N: 8 << 20})
	stop()
	if p := peak.Load(); p > total {
		t.Fatalf("%d bytes queued at the peak, past the bound %d", p, total)
	}
	if r := a.call(good, command{Op: "get", Key: "k"}); r.Val != "v" {
		t.Fatalf("the good worker after the attack: %+v", r)
	}
	// Deaf connections holding pushes are evicted (for the total, or for
	// stalling); those whose pushes the bound dropped hold nothing.
	var st cluster.StateStats
	testutil.Eventually(t, "the deaf connections' eviction", func() bool {
		st, _ = a.p.StateStats()
		return st.Evicted > 0 && st.Queued == 0 && st.Workers == 1+30-int(st.Evicted)
	})
	ended := 0
	for i, end := range a.call(hostile, command{Op: "ends"}).Items {
		if end != "open" && end != "closed" && !strings.Contains(end, "too slow") {
			t.Fatalf("deaf connection %d: %s", i, end)
		}
		if end != "open" {
			ended++
		}
	}
	if ended != int(st.Evicted) {
		t.Fatalf("%d deaf connections ended, %d were evicted", ended, st.Evicted)
	}
	t.Logf("peak queued %d bytes; %+v; RSS idle %d MiB, now %d MiB", peak.Load(), st, idle>>20, rss(t)>>20)
	testutil.Eventually(t, "the primary's memory back within twice idle", func() bool { return rss(t) <= 2*idle })
}

// watchQueued records the store's peak of queued bytes until stopped.
func watchQueued(t *testing.T, a *agents, peak *atomic.Int64) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if st, err := a.p.StateStats(); err == nil && st.Queued > peak.Load() {
				peak.Store(st.Queued)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-ended }
}

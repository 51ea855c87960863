package state_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// The conformance suite: each test runs against every backend, with
// agents in real worker processes under a real cluster primary.

func TestIncrFromFourWorkersIsExact(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, e.url, 4)
		const per = 10000
		rs := a.each(a.ids(), command{Op: "incrN", Key: "hits", N: per})
		seen := map[int64]bool{}
		for _, r := range rs {
			if r.N < per || r.N > 4*per || seen[r.N] {
				t.Fatalf("worker %d ended on %d", r.Worker, r.N)
			}
			seen[r.N] = true
		}
		if got := a.call(a.ids()[0], command{Op: "get", Key: "hits"}); got.Val != strconv.Itoa(4*per) {
			t.Fatalf("hits = %q after 4 × %d increments", got.Val, per)
		}
	})
}

func TestCompareAndSwapRacesHaveOneWinner(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, e.url, 4)
		ids := a.ids()
		const rounds = 500
		winner := map[int]int{}
		for _, r := range a.each(ids, command{Op: "casRace", Key: "race", N: rounds}) {
			for _, i := range r.Wins {
				if w, dup := winner[i]; dup {
					t.Fatalf("round %d won by workers %d and %d", i, w, r.Worker)
				}
				winner[i] = r.Worker
			}
		}
		if len(winner) != rounds {
			t.Fatalf("%d of %d rounds had a winner", len(winner), rounds)
		}
		for _, i := range []int{0, rounds / 2, rounds - 1} {
			got := a.call(ids[0], command{Op: "get", Key: "race:" + strconv.Itoa(i)})
			if got.Val != strconv.Itoa(winner[i]) {
				t.Fatalf("race:%d = %q, won by %d", i, got.Val, winner[i])
			}
		}
		// A counter kept with read/compare-and-swap loops loses nothing.
		const per = 300
		retries := int64(0)
		for _, r := range a.each(ids, command{Op: "casIncr", Key: "cas-counter", N: per}) {
			retries += r.N
		}
		t.Logf("%d swaps lost a race and were retried", retries)
		if got := a.call(ids[1], command{Op: "get", Key: "cas-counter"}); got.Val != strconv.Itoa(4*per) {
			t.Fatalf("cas-counter = %q, want %d", got.Val, 4*per)
		}
	})
}

func TestCompareAndSwapSemantics(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, e.url, 1)
		w := a.ids()[0]
		steps := []struct {
			old, new *string
			want     bool
			after    string // "" = absent
		}{
			{nil, str("a"), true, "a"},       // create if absent
			{nil, str("b"), false, "a"},      // exists already
			{str("x"), str("b"), false, "a"}, // wrong old value
			{str("a"), str(""), true, ""},    // swap to the empty value
			{str(""), str("c"), true, "c"},   // the empty value is a value
			{str("c"), nil, true, ""},        // delete
			{str("c"), nil, false, ""},       // absent: nothing to compare
		}
		for i, s := range steps {
			r := a.call(w, command{Op: "cas", Key: "k", Old: s.old, Val: s.new})
			got := a.call(w, command{Op: "get", Key: "k"})
			present := !got.NotFound
			if r.OK != s.want || (s.after == "" && present && got.Val != "") || (s.after != "" && got.Val != s.after) {
				t.Fatalf("step %d: swapped=%v, value %q (present %v); want swapped=%v, value %q", i, r.OK, got.Val, present, s.want, s.after)
			}
		}
	})
}

func TestTTLExpires(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, e.url, 2)
		w1, w2 := a.ids()[0], a.ids()[1]
		a.call(w2, command{Op: "watch", Key: "ttl:a", N: 2})
		// Long enough for the calls below to finish before the expiry on a
		// busy machine: seven round trips through worker processes.
		ttl := 3 * time.Second
		a.call(w1, command{Op: "set", Key: "ttl:a", Val: str("x"), TTL: ttl})
		a.call(w1, command{Op: "set", Key: "ttl:keep", Val: str("y")})
		a.call(w1, command{Op: "set", Key: "ttl:incr", Val: str("5"), TTL: ttl})
		if r := a.call(w1, command{Op: "incrN", Key: "ttl:incr", N: 1}); r.N != 6 {
			t.Fatalf("incr of 5 gave %d", r.N)
		}
		casSet := time.Now()
		a.call(w1, command{Op: "set", Key: "ttl:cas", Val: str("a"), TTL: ttl})
		if r := a.call(w1, command{Op: "cas", Key: "ttl:cas", Old: str("a"), Val: str("b")}); !r.OK {
			t.Fatal("cas failed")
		}
		a.call(w1, command{Op: "set", Key: "ttl:reset", Val: str("z"), TTL: ttl})
		// Had its TTL stayed, ttl:reset would expire at most this long
		// after ttl:cas.
		later := time.Since(casSet)
		a.call(w1, command{Op: "set", Key: "ttl:reset", Val: str("z")}) // a Set without TTL clears it
		if r := a.call(w2, command{Op: "get", Key: "ttl:a"}); r.NotFound || r.Val != "x" {
			t.Fatalf("ttl:a before its expiry: %+v", r)
		}
		for _, k := range []string{"ttl:a", "ttl:incr", "ttl:cas"} {
			testutil.Eventually(t, k+" to expire", func() bool { return a.call(w2, command{Op: "get", Key: k}).NotFound })
		}
		time.Sleep(later + 200*time.Millisecond)
		if got := a.call(w2, command{Op: "keys", Key: "ttl:"}).Keys; strings.Join(got, " ") != "ttl:keep ttl:reset" {
			t.Fatalf("keys after expiry: %v", got)
		}
		if got := a.call(w2, command{Op: "collect", Key: "ttl:a"}).Items; strings.Join(got, " ") != "set=x expire" {
			t.Fatalf("the watch of ttl:a saw %v", got)
		}
	})
}

func TestPublishReachesEverySubscriberOnceInOrder(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, withBuffer(e.url), 4) // room for a worker the machine starves
		ids := a.ids()
		const per = 1000
		a.each(ids, command{Op: "sub", Key: "chat", Chans: []string{"chat"}, N: 2 * per})
		a.call(ids[3], command{Op: "sub", Key: "other", Chans: []string{"other"}, N: 1})
		a.each(ids[:2], command{Op: "pubN", Chans: []string{"chat"}, N: per})
		a.call(ids[2], command{Op: "pubN", Chans: []string{"other"}, N: 1})
		for _, r := range a.each(ids, command{Op: "collect", Key: "chat"}) {
			checkStream(t, r.Worker, r.Items, "chat", ids[:2], per)
		}
		if got := a.call(ids[3], command{Op: "collect", Key: "other"}).Items; len(got) != 1 || got[0] != "other="+strconv.Itoa(ids[2])+":0" {
			t.Fatalf("the subscriber of other got %v", got)
		}
	})
}

// checkStream checks that items hold every publisher's messages 0 to
// per-1 on channel, each once and in order.
func checkStream(t *testing.T, worker int, items []string, channel string, publishers []int, per int) {
	t.Helper()
	if len(items) != len(publishers)*per {
		t.Fatalf("worker %d got %d messages, want %d", worker, len(items), len(publishers)*per)
	}
	next := map[string]int{}
	for _, p := range publishers {
		next[strconv.Itoa(p)] = 0
	}
	for _, it := range items {
		pub, i, ok := strings.Cut(strings.TrimPrefix(it, channel+"="), ":")
		want, known := next[pub]
		if !ok || !known || !strings.HasPrefix(it, channel+"=") || i != strconv.Itoa(want) {
			t.Fatalf("worker %d got %q; want message %d of publisher %s next", worker, it, want, pub)
		}
		next[pub]++
	}
}

func TestWatchSeesEveryChange(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, withBuffer(e.url), 3)
		ids := a.ids()
		const per = 500
		a.call(ids[0], command{Op: "watch", Key: "watched", N: 2*per + 2})
		a.each(ids[1:], command{Op: "incrN", Key: "watched", N: per})
		a.call(ids[1], command{Op: "set", Key: "watched", Val: str("final")})
		a.call(ids[2], command{Op: "del", Key: "watched"})
		a.call(ids[2], command{Op: "del", Key: "watched"}) // nothing to delete: no change
		items := a.call(ids[0], command{Op: "collect", Key: "watched"}).Items
		if len(items) != 2*per+2 {
			t.Fatalf("the watch saw %d changes, want %d: %v", len(items), 2*per+2, items)
		}
		for i := 0; i < 2*per; i++ {
			if items[i] != "set="+strconv.Itoa(i+1) {
				t.Fatalf("change %d is %q, want set=%d", i, items[i], i+1)
			}
		}
		if items[2*per] != "set=final" || items[2*per+1] != "delete" {
			t.Fatalf("last changes: %v", items[2*per:])
		}
	})
}

func TestKilledWorkerLosesNothingAcknowledged(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		a := startAgents(t, e.url, 2)
		ids := a.ids()
		victim, survivor := ids[0], ids[1]
		a.call(victim, command{Op: "sub", Key: "kchan", Chans: []string{"kchan"}, N: 1 << 30})
		a.call(victim, command{Op: "watch", Key: "scribble:count", N: 1 << 30})
		channels := []string{"kchan", "herd:watch:0:scribble:count", "__keyspace@0__:scribble:count"}
		if n := e.subscriptions(t, a, channels...); n < 2 {
			t.Fatalf("%d subscriptions before the kill", n)
		}
		file := filepath.Join(t.TempDir(), "acked")
		a.send(victim, command{Op: "scribble", Key: "scribble", File: file})
		testutil.Eventually(t, "300 acknowledged writes", func() bool { return len(ackedLines(t, file)) >= 300 })
		pid := pidOf(t, a, victim)
		syscall.Kill(pid, syscall.SIGKILL)
		a.waitReady() // its replacement
		lines := ackedLines(t, file)
		last := lines[len(lines)-1]
		t.Logf("worker %d (pid %d) killed after %d acknowledged writes", victim, pid, len(lines))
		keys := map[string]bool{}
		for _, k := range a.call(survivor, command{Op: "keys", Key: "scribble:"}).Keys {
			keys[k] = true
		}
		for i := 1; i <= last[0]; i++ {
			if !keys["scribble:"+strconv.Itoa(i)] {
				t.Fatalf("scribble:%d was acknowledged and is gone", i)
			}
		}
		count, _ := strconv.Atoi(a.call(survivor, command{Op: "get", Key: "scribble:count"}).Val)
		if count < last[1] || count > last[1]+1 {
			t.Fatalf("scribble:count = %d; the last acknowledged increment made it %d", count, last[1])
		}
		testutil.Eventually(t, "the dead worker's subscriptions to go", func() bool { return e.subscriptions(t, a, channels...) == 0 })
	})
}

// ackedLines reads the scribbler's complete lines: "I COUNT".
func ackedLines(t *testing.T, file string) [][2]int {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var i, n int
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			break // a line cut short by the kill
		}
		i, _ = strconv.Atoi(fields[0])
		n, _ = strconv.Atoi(fields[1])
		out = append(out, [2]int{i, n})
	}
	return out
}

func pidOf(t *testing.T, a *agents, id int) int {
	t.Helper()
	ws, err := a.p.Workers()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.ID == id {
			return w.Pid
		}
	}
	t.Fatalf("no worker %d", id)
	return 0
}

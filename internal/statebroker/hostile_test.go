package statebroker

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/internal/testutil"
)

// TestHostileConnsPastCapRefused: an owner asking for thousands of
// connections gets MaxConns, the rest are refused with ErrConnLimit and
// cost no descriptor; DisconnectOwner closes its connections, and frees
// its slots.
func TestHostileConnsPastCapRefused(t *testing.T) {
	b := newBroker(t, Limits{MaxConns: 3})
	before := len(testutil.FDs())
	var held []*client
	for i := 0; i < 3000; i++ {
		nc, err := b.ConnectFor(7)
		if i < 3 {
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			held = append(held, &client{t: t, nc: nc, in: statewire.NewReader(nc, 4096)})
			continue
		}
		if !errors.Is(err, ErrConnLimit) {
			t.Fatalf("connection %d past the cap: %v", i, err)
		}
	}
	if n := len(testutil.FDs()) - before; n > 2*3 {
		t.Fatalf("%d more descriptors after 3000 connection attempts", n)
	}
	other, err := b.ConnectFor(8)
	if err != nil {
		t.Fatalf("another owner was refused: %v", err)
	}
	other.Close()
	held[0].do(statewire.Request{Op: statewire.OpSet, Key: "k", Val: []byte("v")})
	b.DisconnectOwner(7)
	for _, c := range held {
		c.nc.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.in.Next(); err == nil {
			t.Fatal("a connection of the disconnected owner is still up")
		}
		c.nc.Close()
	}
	testutil.Eventually(t, "the owner's slots", func() bool {
		nc, err := b.ConnectFor(7)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
}

// TestHostileDeafSubscribersEvicted: subscribers that never read, sent
// more than the broker's total bound, are evicted (the ones holding the
// most first) and told why; the queued bytes never pass the bound; a
// reading subscriber and the publisher keep working.
func TestHostileDeafSubscribersEvicted(t *testing.T) {
	const total = 24 << 20
	b := newBroker(t, Limits{TotalQueueBytes: total, QueueBytes: 16 << 20})
	pub, good := connect(t, b), connect(t, b)
	deaf := make([]*client, 30)
	for i := range deaf {
		deaf[i] = connect(t, b)
		deaf[i].do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"deaf" + strconv.Itoa(i), "all"}})
	}
	good.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"all"}})
	payload := make([]byte, 4<<20)
	for round := 0; round < 2; round++ {
		for i := range deaf {
			if r := pub.do(statewire.Request{Op: statewire.OpPub, Key: "deaf" + strconv.Itoa(i), Val: payload}); r.Code != 0 {
				t.Fatalf("publish: %+v", r)
			}
			if q := b.Stats().Queued; q > total {
				t.Fatalf("%d bytes queued, past the bound %d", q, total)
			}
		}
		pub.do(statewire.Request{Op: statewire.OpPub, Key: "all", Val: []byte("hello")})
		if p := good.push(); string(p.Val) != "hello" {
			t.Fatalf("the reading subscriber got %+v", p)
		}
	}
	st := b.Stats()
	if st.Evicted == 0 {
		t.Fatalf("no deaf subscriber was evicted: %+v", st)
	}
	byes := 0
	for i, why := range byesOf(deaf) {
		if why != "" && !strings.Contains(why, "too slow") {
			t.Fatalf("deaf subscriber %d was told %q", i, why)
		}
		if why != "" {
			byes++
		}
	}
	if byes == 0 || uint64(byes) > st.Evicted {
		t.Fatalf("%d deaf subscribers got a bye, %d were evicted", byes, st.Evicted)
	}
	t.Logf("%d of 30 deaf subscribers evicted, with a bye; %+v", byes, b.Stats())
	if r := good.do(statewire.Request{Op: statewire.OpGet, Key: "nothing"}); r.Code != statewire.CodeNotFound {
		t.Fatalf("the good client after the attack: %+v", r)
	}
}

// TestHostileStalledClientEvicted: a client that reads nothing while its
// pushes wait is evicted after StallTimeout, and its memory freed.
func TestHostileStalledClientEvicted(t *testing.T) {
	b := newBroker(t, Limits{StallTimeout: 200 * time.Millisecond})
	pub, deaf := connect(t, b), connect(t, b)
	deaf.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"c"}})
	payload := make([]byte, 1<<20)
	for i := 0; i < 8; i++ { // more than the socket holds
		pub.do(statewire.Request{Op: statewire.OpPub, Key: "c", Val: payload})
	}
	testutil.Eventually(t, "the eviction", func() bool {
		st := b.Stats()
		return st.Evicted == 1 && st.Clients == 1 && st.Queued == 0
	})
	if why := byeOf(deaf); why != "" {
		t.Fatalf("a stalled client got a bye it could not read: %q", why)
	}
}

// TestValueLimit: a value or payload past Limits.MaxValue fails.
func TestValueLimit(t *testing.T) {
	b := newBroker(t, Limits{MaxValue: 100})
	c := connect(t, b)
	for _, op := range []byte{statewire.OpSet, statewire.OpPub} {
		if r := c.do(statewire.Request{Op: op, Key: "k", Val: make([]byte, 101)}); r.Code != statewire.CodeTooLarge {
			t.Fatalf("op %c of 101 bytes: %+v", op, r)
		}
	}
}

// byeOf reads c's frames to the end, or until none comes for a second,
// and returns its bye's reason ("" for none).
func byeOf(c *client) string {
	for {
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		body, err := c.in.Next()
		if err != nil {
			return ""
		}
		var r statewire.Response
		if statewire.ParseResponse(body, &r) == nil && r.Type == statewire.TypeBye {
			if r.Code != statewire.CodeEvicted {
				return "code " + strconv.Itoa(int(r.Code))
			}
			return r.Msg
		}
	}
}

// byesOf is byeOf of each client, read at once.
func byesOf(cs []*client) []string {
	out := make([]string, len(cs))
	done := make(chan struct{})
	for i, c := range cs {
		go func() {
			out[i] = byeOf(c)
			done <- struct{}{}
		}()
	}
	for range cs {
		<-done
	}
	return out
}

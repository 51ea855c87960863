package statebroker

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client speaks the protocol to a broker, as package state does, one
// request at a time; pushes that arrive meanwhile are kept.
type client struct {
	t      *testing.T
	nc     net.Conn
	in     *statewire.Reader
	id     uint64
	pushes []statewire.Response
}

func connect(t *testing.T, b *Broker) *client {
	t.Helper()
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, in: statewire.NewReader(nc, 4096)}
}

func (c *client) send(r statewire.Request) uint64 {
	c.t.Helper()
	c.id++
	r.ID = c.id
	if _, err := c.nc.Write(statewire.AppendRequest(nil, &r)); err != nil {
		c.t.Fatal(err)
	}
	return r.ID
}

func (c *client) next() statewire.Response {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(time.Minute))
	body, err := c.in.Next()
	if err != nil {
		c.t.Fatal(err)
	}
	var r statewire.Response
	if err := statewire.ParseResponse(body, &r); err != nil {
		c.t.Fatal(err)
	}
	return r
}

func (c *client) do(r statewire.Request) statewire.Response {
	c.t.Helper()
	id := c.send(r)
	for {
		resp := c.next()
		if resp.Type == statewire.TypeReply && resp.ID == id {
			return resp
		}
		c.pushes = append(c.pushes, resp)
	}
}

// push returns the next push.
func (c *client) push() statewire.Response {
	c.t.Helper()
	if len(c.pushes) > 0 {
		p := c.pushes[0]
		c.pushes = c.pushes[1:]
		return p
	}
	return c.next()
}

func newBroker(t *testing.T, lim Limits) *Broker {
	t.Helper()
	testutil.CheckFDs(t)
	b := New(lim)
	t.Cleanup(func() { b.Close() })
	return b
}

func TestLimitsMakeWritesFail(t *testing.T) {
	b := newBroker(t, Limits{MaxKeys: 3, MaxBytes: 3*EntryOverhead + 30})
	c := connect(t, b)
	for i := 0; i < 3; i++ {
		if r := c.do(statewire.Request{Op: statewire.OpSet, Key: "k" + strconv.Itoa(i), Val: []byte("v")}); r.Code != 0 {
			t.Fatalf("set %d: code %d %s", i, r.Code, r.Msg)
		}
	}
	if r := c.do(statewire.Request{Op: statewire.OpSet, Key: "k3", Val: []byte("v")}); r.Code != statewire.CodeFull {
		t.Fatalf("a fourth key: code %d", r.Code)
	}
	if r := c.do(statewire.Request{Op: statewire.OpIncr, Key: "k4", N: 1}); r.Code != statewire.CodeFull {
		t.Fatalf("a fourth key by incr: code %d", r.Code)
	}
	if r := c.do(statewire.Request{Op: statewire.OpSet, Key: "k0", Val: make([]byte, 40)}); r.Code != statewire.CodeFull {
		t.Fatalf("a value past MaxBytes: code %d", r.Code)
	}
	c.do(statewire.Request{Op: statewire.OpDel, Key: "k0"})
	if r := c.do(statewire.Request{Op: statewire.OpSet, Key: "k3", Val: []byte("v")}); r.Code != 0 {
		t.Fatalf("after a delete: code %d", r.Code)
	}
	if st := b.Stats(); st.Keys != 3 || st.Bytes != 3*(EntryOverhead+3) {
		t.Fatalf("stats %+v", st)
	}
}

func TestExpiryIsPushedToWatchers(t *testing.T) {
	b := newBroker(t, Limits{})
	c := connect(t, b)
	c.do(statewire.Request{Op: statewire.OpWatch, Sub: 1, Key: "t"})
	c.do(statewire.Request{Op: statewire.OpSet, Key: "t", Val: []byte("x"), TTL: 50})
	if p := c.push(); p.Ev != statewire.EvSet || string(p.Val) != "x" || p.Seq != 1 {
		t.Fatalf("first change %+v", p)
	}
	if p := c.push(); p.Ev != statewire.EvExpire || p.Key != "t" || p.Seq != 2 {
		t.Fatalf("second change %+v", p)
	}
	if r := c.do(statewire.Request{Op: statewire.OpGet, Key: "t"}); r.Code != statewire.CodeNotFound {
		t.Fatalf("get after expiry: %+v", r)
	}
	if st := b.Stats(); st.Keys != 0 || st.Bytes != 0 {
		t.Fatalf("stats after expiry %+v", st)
	}
}

// TestSlowClientDropsOldest: a subscriber that does not read loses its
// oldest pushes, counted, and stalls neither the publisher nor a reading
// subscriber.
func TestSlowClientDropsOldest(t *testing.T) {
	b := newBroker(t, Limits{QueueMessages: 100})
	slow, fast, pub := connect(t, b), connect(t, b), connect(t, b)
	slow.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"c"}})
	fast.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"c"}})
	payload := make([]byte, 16<<10)
	const n = 2000 // 32 MiB: more than the socket and the queue hold
	// The reading subscriber keeps up (its queue may still drop a few on
	// a busy machine): it gets to the last message.
	done := make(chan error, 1)
	go func() {
		for {
			fast.nc.SetReadDeadline(time.Now().Add(time.Minute))
			body, err := fast.in.Next()
			var p statewire.Response
			if err == nil {
				err = statewire.ParseResponse(body, &p)
			}
			if err != nil || p.Seq == n {
				done <- err
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		if r := pub.do(statewire.Request{Op: statewire.OpPub, Key: "c", Val: payload}); r.Code != 0 {
			t.Fatalf("publish %d: %+v", i, r)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the reading subscriber: %v", err)
	}
	if b.Stats().Dropped == 0 {
		t.Fatal("nothing dropped for the slow client")
	}
	var last uint64
	gap := false
	for last < n {
		p := slow.push()
		gap = gap || p.Seq != last+1
		last = p.Seq
	}
	if !gap {
		t.Fatal("the slow client saw no gap in its sequence numbers")
	}
}

func TestClosedClientLosesItsSubscriptions(t *testing.T) {
	b := newBroker(t, Limits{})
	c := connect(t, b)
	c.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"a", "b"}})
	c.do(statewire.Request{Op: statewire.OpWatch, Sub: 2, Key: "k"})
	if r := c.do(statewire.Request{Op: statewire.OpWatch, Sub: 2, Key: "k"}); r.Code != statewire.CodeSubExists {
		t.Fatalf("a reused subscription id: %+v", r)
	}
	if st := b.Stats(); st.Subs != 2 || st.Clients != 1 {
		t.Fatalf("stats %+v", st)
	}
	c.nc.Close()
	deadline := time.Now().Add(time.Minute)
	channels := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.chans) + len(b.watches)
	}
	for st := b.Stats(); st.Subs != 0 || st.Clients != 0 || channels() != 0; st = b.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats after the close %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadRequests(t *testing.T) {
	b := newBroker(t, Limits{})
	c := connect(t, b)
	for _, r := range []statewire.Request{
		{Op: 'z'},
		{Op: statewire.OpSub, Sub: 1},
		{Op: statewire.OpSub, Chans: []string{"a"}},
		{Op: statewire.OpSet, Key: string(make([]byte, statewire.MaxName+1))},
	} {
		if resp := c.do(r); resp.Code == 0 {
			t.Fatalf("%+v was accepted", r)
		}
	}
	c.do(statewire.Request{Op: statewire.OpSet, Key: "s", Val: []byte("x")})
	if r := c.do(statewire.Request{Op: statewire.OpIncr, Key: "s", N: 1}); r.Code != statewire.CodeNotInt {
		t.Fatalf("incr of x: %+v", r)
	}
	c.do(statewire.Request{Op: statewire.OpSet, Key: "max", Val: []byte("9223372036854775807")})
	if r := c.do(statewire.Request{Op: statewire.OpIncr, Key: "max", N: 1}); r.Code != statewire.CodeNotInt {
		t.Fatalf("overflow: %+v", r)
	}
	// A frame that does not parse ends the connection.
	c.nc.Write([]byte{3, 0, 0, 0, 'g', 0xff, 0xff})
	c.nc.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c.in.Next(); err == nil {
		t.Fatal("the connection survived a bad frame")
	}
}

func TestCloseEndsClients(t *testing.T) {
	testutil.CheckFDs(t)
	b := New(Limits{})
	c := connect(t, b)
	c.do(statewire.Request{Op: statewire.OpSub, Sub: 1, Chans: []string{"a"}})
	b.Close()
	c.nc.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c.in.Next(); err == nil {
		t.Fatal("a client survived Close")
	}
	if _, err := b.Connect(); err == nil {
		t.Fatal("Connect after Close succeeded")
	}
}

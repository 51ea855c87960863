package state

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// fakeBroker is the other end of a link, driven by the test: it hands
// over the requests it reads, and writes what it is told to.
type fakeBroker struct {
	t    *testing.T
	nc   net.Conn
	reqs chan statewire.Request
}

// linkPair returns a link to a fake broker.
func linkPair(t *testing.T) (*link, *fakeBroker) {
	t.Helper()
	a, other, err := statewire.Pair()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLink(a, true)
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{t: t, nc: other, reqs: make(chan statewire.Request, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		in := statewire.NewReader(b.nc, 4096)
		for {
			body, err := in.Next()
			if err != nil {
				return
			}
			var r statewire.Request
			if statewire.ParseRequest(body, &r) != nil {
				return
			}
			b.reqs <- r
		}
	}()
	t.Cleanup(func() {
		l.close()
		b.nc.Close()
		<-done
	})
	return l, b
}

// next returns the next request the broker got.
func (b *fakeBroker) next() statewire.Request {
	b.t.Helper()
	select {
	case r := <-b.reqs:
		return r
	case <-time.After(time.Minute):
		b.t.Fatal("no request came")
		return statewire.Request{}
	}
}

func (b *fakeBroker) reply(id uint64, n int64) {
	b.nc.Write(statewire.AppendReply(nil, &statewire.Response{ID: id, OK: true, N: n}))
}

func (b *fakeBroker) push(sub, seq uint64, payload string) {
	b.nc.Write(statewire.AppendPush(nil, sub, seq, statewire.PushBody(statewire.TypeMessage, 0, "c", []byte(payload))))
}

type callResult struct {
	r   *statewire.Response
	err error
}

func callAsync(l *link, ctx context.Context) <-chan callResult {
	res := make(chan callResult, 1)
	go func() {
		r, err := l.call(ctx, &statewire.Request{Op: statewire.OpIncr, Key: "k", N: 1})
		res <- callResult{r, err}
	}()
	return res
}

func result(t *testing.T, res <-chan callResult) callResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(time.Minute):
		t.Fatal("the call did not return")
		return callResult{}
	}
}

// holder returns the read role's holder.
func (l *link) holder() *pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reader
}

// TestLinkCanceledReaderPassesTheRole: a call whose context ends while
// it reads the socket for everyone returns, and the call that waited
// behind it reads its own reply.
func TestLinkCanceledReaderPassesTheRole(t *testing.T) {
	l, b := linkPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	first := callAsync(l, ctx)
	a := b.next()
	for l.holder() == nil {
		time.Sleep(time.Millisecond)
	}
	second := callAsync(l, context.Background())
	c := b.next()
	cancel()
	if r := result(t, first); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the canceled call: %+v", r)
	}
	b.reply(a.ID, 1) // too late: dropped
	b.reply(c.ID, 2)
	if r := result(t, second); r.err != nil || r.r.N != 2 {
		t.Fatalf("the call behind it: %+v", r)
	}
}

// pushes records a subscription's pushes.
type pushes struct {
	mu   sync.Mutex
	got  []string
	came chan struct{}
	err  error
}

func (p *pushes) push(r *statewire.Response) {
	p.mu.Lock()
	p.got = append(p.got, string(r.Val))
	p.mu.Unlock()
	p.came <- struct{}{}
}

func (p *pushes) end(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	close(p.came)
}

// TestLinkPushesWithAndWithoutCalls: pushes are read by the pump when no
// call is made, by the calls when they are, and the subscription ends
// when the connection is lost, as the calls then fail.
func TestLinkPushesWithAndWithoutCalls(t *testing.T) {
	l, b := linkPair(t)
	p := &pushes{came: make(chan struct{}, 100)}
	l.addSub(7, p)
	b.push(7, 1, "idle")
	waitPush := func(what string) {
		t.Helper()
		select {
		case <-p.came:
		case <-time.After(time.Minute):
			t.Fatalf("the push %s never came", what)
		}
	}
	waitPush("without calls")
	res := callAsync(l, context.Background())
	r := b.next()
	b.push(7, 2, "busy")
	b.reply(r.ID, 5)
	if c := result(t, res); c.err != nil || c.r.N != 5 {
		t.Fatalf("the call: %+v", c)
	}
	waitPush("with a call")
	b.nc.Close()
	res = callAsync(l, context.Background())
	if c := result(t, res); !errors.Is(c.err, ErrClosed) {
		t.Fatalf("a call after the broker left: %+v", c)
	}
	select {
	case _, ok := <-p.came:
		if ok {
			t.Fatal("an unexpected push")
		}
	case <-time.After(time.Minute):
		t.Fatal("the subscription did not end")
	}
	if p.got[0] != "idle" || p.got[1] != "busy" || !errors.Is(p.err, ErrClosed) {
		t.Fatalf("pushes %q, end %v", p.got, p.err)
	}
}

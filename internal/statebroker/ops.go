package statebroker

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// do carries out one request for client c.
func (b *Broker) do(c *Conn, r *statewire.Request) *statewire.Response {
	if resp := b.check(r); resp != nil {
		return resp
	}
	var body []byte
	if r.Op == statewire.OpPub {
		body = statewire.PushBody(statewire.TypeMessage, 0, r.Key, r.Val) // encoded before the lock
	}
	b.mu.Lock()
	defer b.unlock(c)
	if b.closed || c.gone {
		return fail(statewire.CodeClosed, "the store is closed")
	}
	if c.evicted.Load() {
		return fail(statewire.CodeEvicted, c.why)
	}
	now := time.Now()
	switch r.Op {
	case statewire.OpGet:
		return b.get(r.Key, now)
	case statewire.OpSet:
		return b.set(r, now)
	case statewire.OpDel:
		if e := b.lookup(r.Key, now); e != nil {
			b.remove(e, statewire.EvDel)
		}
	case statewire.OpIncr:
		return b.incr(r.Key, r.N, now)
	case statewire.OpCAS:
		return b.cas(r, now)
	case statewire.OpKeys:
		return b.keys(r.Key, now)
	case statewire.OpPub:
		b.publish(r.Key, body)
	case statewire.OpSub:
		return b.addSub(&sub{c: c, id: r.Sub, chans: slices.Clone(r.Chans)})
	case statewire.OpWatch:
		return b.addSub(&sub{c: c, id: r.Sub, key: r.Key, watch: true})
	case statewire.OpUnsub:
		if s := c.subs[r.Sub]; s != nil {
			b.unsubscribe(s)
		}
	}
	return ok()
}

// unlock releases b.mu after a request of c (nil: after expiry), waking
// the writers of the clients that got pushes. c's own pushes are left to
// its reader, which writes them with its replies; when it woke writers,
// it lets them run before it waits for its next request.
func (b *Broker) unlock(c *Conn) {
	for _, t := range b.touched {
		t.touched = false
		if t != c {
			t.kick()
			if c != nil {
				c.nc.Yield()
			}
		}
	}
	clear(b.touched)
	b.touched = b.touched[:0]
	b.mu.Unlock()
}

// check validates a request before it takes the lock.
func (b *Broker) check(r *statewire.Request) *statewire.Response {
	switch r.Op {
	case statewire.OpGet, statewire.OpSet, statewire.OpDel, statewire.OpIncr, statewire.OpCAS,
		statewire.OpKeys, statewire.OpPub, statewire.OpSub, statewire.OpUnsub, statewire.OpWatch:
	default:
		return fail(statewire.CodeBad, "unknown op "+strconv.QuoteRune(rune(r.Op)))
	}
	if len(r.Key) > statewire.MaxName {
		return fail(statewire.CodeTooLarge, "key or channel longer than "+strconv.Itoa(statewire.MaxName)+" bytes")
	}
	if len(r.Val) > b.lim.MaxValue || len(r.Old) > b.lim.MaxValue {
		return fail(statewire.CodeTooLarge, "value longer than "+strconv.Itoa(b.lim.MaxValue)+" bytes")
	}
	if r.TTL > math.MaxInt64/uint64(time.Millisecond) {
		return fail(statewire.CodeBad, "ttl too long")
	}
	if (r.Op == statewire.OpSub || r.Op == statewire.OpWatch) && r.Sub == 0 {
		return fail(statewire.CodeBad, "no subscription id")
	}
	if r.Op == statewire.OpSub && len(r.Chans) == 0 {
		return fail(statewire.CodeBad, "no channel to subscribe to")
	}
	for _, ch := range r.Chans {
		if len(ch) > statewire.MaxName {
			return fail(statewire.CodeTooLarge, "channel longer than "+strconv.Itoa(statewire.MaxName)+" bytes")
		}
	}
	return nil
}

func fail(code byte, msg string) *statewire.Response {
	return &statewire.Response{Code: code, Msg: msg}
}

func ok() *statewire.Response { return &statewire.Response{OK: true} }

func (b *Broker) get(key string, now time.Time) *statewire.Response {
	e := b.lookup(key, now)
	if e == nil {
		return fail(statewire.CodeNotFound, "")
	}
	return &statewire.Response{OK: true, Val: e.val}
}

func (b *Broker) set(r *statewire.Request, now time.Time) *statewire.Response {
	var exp time.Time
	if r.TTL > 0 {
		exp = now.Add(time.Duration(r.TTL) * time.Millisecond)
	}
	return b.stored(b.put(r.Key, nonNil(r.Val), exp, false, now))
}

// stored answers a write.
func (b *Broker) stored(full bool) *statewire.Response {
	if full {
		return fail(statewire.CodeFull, "the store is full (its limits on keys or bytes)")
	}
	return ok()
}

func (b *Broker) incr(key string, delta int64, now time.Time) *statewire.Response {
	var cur int64
	if e := b.lookup(key, now); e != nil {
		v, err := strconv.ParseInt(string(e.val), 10, 64)
		if err != nil {
			return fail(statewire.CodeNotInt, "the value is not a decimal integer")
		}
		cur = v
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return fail(statewire.CodeNotInt, "the increment would overflow")
	}
	n := cur + delta
	if b.put(key, strconv.AppendInt(nil, n, 10), time.Time{}, true, now) {
		return b.stored(true)
	}
	return &statewire.Response{OK: true, N: n}
}

// cas swaps the value when it is r.Old (absent, with NoOld), for r.Val
// (a delete, with NoVal). The key keeps its expiry.
func (b *Broker) cas(r *statewire.Request, now time.Time) *statewire.Response {
	e := b.lookup(r.Key, now)
	switch {
	case r.NoOld && e != nil, !r.NoOld && e == nil, e != nil && !bytes.Equal(e.val, r.Old):
		return &statewire.Response{}
	}
	if r.NoVal {
		if e != nil {
			b.remove(e, statewire.EvDel)
		}
		return ok()
	}
	return b.stored(b.put(r.Key, nonNil(r.Val), time.Time{}, true, now))
}

func (b *Broker) keys(prefix string, now time.Time) *statewire.Response {
	var out []string
	size := 0
	for k, e := range b.kv {
		if !strings.HasPrefix(k, prefix) || b.lookup(k, now) != e {
			continue
		}
		if size += len(k) + 4; size > maxKeysReply {
			return fail(statewire.CodeTooLarge, "too many keys: ask for a longer prefix")
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return &statewire.Response{OK: true, Keys: out}
}

func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

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
	if code, msg := check(r); code != "" {
		return fail(code, msg)
	}
	var body []byte
	if r.Op == statewire.OpPub {
		body = statewire.MessageBody(r.Key, r.Val) // encoded before the lock
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || c.gone {
		return fail(statewire.ErrClosed, "the store is closed")
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
		return result(b.addSub(&sub{c: c, id: r.Sub, chans: slices.Clone(r.Chans)}))
	case statewire.OpWatch:
		return result(b.addSub(&sub{c: c, id: r.Sub, key: r.Key, watch: true}))
	case statewire.OpUnsub:
		if s := c.subs[r.Sub]; s != nil {
			b.unsubscribe(s)
		}
	}
	return &statewire.Response{OK: true}
}

// check validates a request before it takes the lock.
func check(r *statewire.Request) (code, msg string) {
	switch r.Op {
	case statewire.OpGet, statewire.OpSet, statewire.OpDel, statewire.OpIncr, statewire.OpCAS,
		statewire.OpKeys, statewire.OpPub, statewire.OpSub, statewire.OpUnsub, statewire.OpWatch:
	default:
		return statewire.ErrBad, "unknown op " + strconv.Quote(r.Op)
	}
	if len(r.Key) > statewire.MaxName {
		return statewire.ErrTooLarge, "key or channel longer than " + strconv.Itoa(statewire.MaxName) + " bytes"
	}
	if len(r.Val) > statewire.MaxValue || len(r.Old) > statewire.MaxValue {
		return statewire.ErrTooLarge, "value longer than " + strconv.Itoa(statewire.MaxValue) + " bytes"
	}
	if r.TTL < 0 {
		return statewire.ErrBad, "negative ttl"
	}
	if r.Op == statewire.OpSub && len(r.Chans) == 0 {
		return statewire.ErrBad, "no channel to subscribe to"
	}
	for _, ch := range r.Chans {
		if len(ch) > statewire.MaxName {
			return statewire.ErrTooLarge, "channel longer than " + strconv.Itoa(statewire.MaxName) + " bytes"
		}
	}
	return "", ""
}

func fail(code, msg string) *statewire.Response { return &statewire.Response{Err: code, Msg: msg} }

// result turns an error code (or none) into a response.
func result(code string) *statewire.Response {
	switch code {
	case "":
		return &statewire.Response{OK: true}
	case statewire.ErrFull:
		return fail(code, "too many subscriptions and watches for one worker")
	}
	return fail(code, "subscription id in use")
}

func (b *Broker) get(key string, now time.Time) *statewire.Response {
	e := b.lookup(key, now)
	if e == nil {
		return fail(statewire.ErrNotFound, "")
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
func (b *Broker) stored(code string) *statewire.Response {
	if code == statewire.ErrFull {
		return fail(code, "the store is full (Limits.MaxKeys or MaxBytes)")
	}
	return &statewire.Response{OK: true}
}

func (b *Broker) incr(key string, delta int64, now time.Time) *statewire.Response {
	var cur int64
	if e := b.lookup(key, now); e != nil {
		v, err := strconv.ParseInt(string(e.val), 10, 64)
		if err != nil {
			return fail(statewire.ErrNotInteger, "the value is not a decimal integer")
		}
		cur = v
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return fail(statewire.ErrNotInteger, "the increment would overflow")
	}
	n := cur + delta
	if code := b.put(key, strconv.AppendInt(nil, n, 10), time.Time{}, true, now); code != "" {
		return b.stored(code)
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
		return &statewire.Response{OK: true}
	}
	if code := b.put(r.Key, nonNil(r.Val), time.Time{}, true, now); code != "" {
		return b.stored(code)
	}
	return &statewire.Response{OK: true}
}

func (b *Broker) keys(prefix string, now time.Time) *statewire.Response {
	var out []string
	size := 0
	for k, e := range b.kv {
		if !strings.HasPrefix(k, prefix) || b.lookup(k, now) != e {
			continue
		}
		if size += len(k) + 3; size > maxKeysReply {
			return fail(statewire.ErrTooLarge, "too many keys: ask for a longer prefix")
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

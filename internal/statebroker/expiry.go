package statebroker

import (
	"container/heap"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// expiryHeap orders the entries that have a TTL by expiry, earliest first.
// One timer, armed for the earliest, removes them when due; reads also
// check expiry themselves, so a late timer never shows an expired value.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}

// setExpiry gives e the expiry exp (zero: none) and keeps the heap and
// the timer in step.
func (b *Broker) setExpiry(e *entry, exp time.Time) {
	e.exp = exp
	switch {
	case exp.IsZero() && e.idx >= 0:
		heap.Remove(&b.exp, e.idx)
	case exp.IsZero():
	case e.idx >= 0:
		heap.Fix(&b.exp, e.idx)
	default:
		heap.Push(&b.exp, e)
	}
	b.arm()
}

// arm makes the timer fire by the earliest expiry.
func (b *Broker) arm() {
	if len(b.exp) == 0 || b.closed {
		return
	}
	next := b.exp[0].exp
	if !b.armed.IsZero() && !next.Before(b.armed) {
		return
	}
	b.armed = next
	d := time.Until(next)
	if b.timer == nil {
		b.timer = time.AfterFunc(d, b.expireDue)
		return
	}
	b.timer.Reset(d)
}

// expireDue removes the entries whose time has come.
func (b *Broker) expireDue() {
	b.mu.Lock()
	defer b.unlock(nil)
	if b.closed {
		return
	}
	b.armed = time.Time{}
	now := time.Now()
	for len(b.exp) > 0 && !now.Before(b.exp[0].exp) {
		b.remove(b.exp[0], statewire.EvExpire)
	}
	b.arm()
}

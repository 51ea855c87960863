package statebroker

import (
	"fmt"
	"time"
)

// evict drops client c (b.mu is held): its subscriptions are removed
// and its queued pushes dropped, and a bye saying why (why) is queued, the
// last frame it gets before its socket closes. Its requests meanwhile fail
// with statewire.CodeEvicted.
func (b *Broker) evict(c *Conn, why string) {
	if c.gone || c.evicted.Load() {
		return
	}
	c.evicted.Store(true)
	c.why = why
	b.evicted++
	for _, s := range c.subs {
		b.unsubscribe(s)
	}
	c.clearQueue()
	c.qmu.Lock()
	c.q = append(c.q, byeFrame(why))
	c.qmu.Unlock()
	c.touch()
}

// room makes room for n more bytes of pushes in the broker's total
// (b.mu is held), evicting the clients that hold the most first, as many
// as it takes once what they hold is freed; it reports whether n fits
// now (bytes being written to an evicted client are freed when its
// write ends, or its socket is closed for stalling).
func (b *Broker) room(n int64) bool {
	var freeing int64
	for b.queued.Load()-freeing+n > b.lim.TotalQueueBytes {
		c, most := b.largest()
		if c == nil {
			break
		}
		b.evict(c, fmt.Sprintf("too slow: the store's pushes waiting for all workers reached %d bytes, and this connection held the most (%d bytes)",
			b.lim.TotalQueueBytes, most))
		freeing += most
	}
	return b.queued.Load()+n <= b.lim.TotalQueueBytes
}

// largest returns the client not evicted that holds the most bytes of
// pushes (queued or being written), or nil when none holds any.
func (b *Broker) largest() (*Conn, int64) {
	var top *Conn
	var most int64
	for c := range b.conns {
		c.qmu.Lock()
		n := c.held()
		c.qmu.Unlock()
		if n > most && !c.evicted.Load() {
			top, most = c, n
		}
	}
	return top, most
}

// stalledWhy is the bye of a client evicted by patrol.
func stalledWhy(d time.Duration) string {
	return fmt.Sprintf("too slow: the connection took nothing the store wrote to it for %s", d)
}

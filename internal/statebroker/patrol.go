package statebroker

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// progress tracks one goroutine's writes to a client's socket, for
// patrol to see a write that does not end.
type progress struct {
	n     atomic.Uint64 // odd while a write is under way
	seen  uint64        // patrol's: n when it last changed
	since time.Time     // patrol's: when it saw that
}

func (p *progress) begin() { p.n.Add(1) }
func (p *progress) end()   { p.n.Add(1) }

// stalled reports whether one write has been under way for limit or
// more, as far as patrol's visits (at now) tell.
func (p *progress) stalled(now time.Time, limit time.Duration) bool {
	n := p.n.Load()
	if n != p.seen || n%2 == 0 {
		p.seen, p.since = n, now
		return false
	}
	return now.Sub(p.since) >= limit
}

// patrol visits the clients a few times per Limits.StallTimeout and
// evicts those whose socket took no write for that long, until the
// broker stops.
func (b *Broker) patrol() {
	defer b.wg.Done()
	every := max(b.lim.StallTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	var burst int64
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			for _, c := range b.stalled(now) {
				c.nc.Close() // its blocked writes fail; its reader detaches it
			}
			burst = b.giveBack(burst)
		}
	}
}

// giveBackAfter is how many bytes of large requests and pushes freed
// make patrol return the memory they used to the
// system once they stop coming.
const giveBackAfter = 16 << 20

// giveBack adds the large traffic since the last visit to burst, and
// once a visit finds none after giveBackAfter bytes of it, returns the
// freed memory to the system (the Go runtime keeps it otherwise until
// its next collection, minutes later). It returns the new burst.
func (b *Broker) giveBack(burst int64) int64 {
	if n := b.churn.Swap(0); n > 0 {
		return burst + n
	}
	if burst < giveBackAfter {
		return burst
	}
	debug.FreeOSMemory()
	return 0
}

// stalled evicts the clients whose socket took no write for
// Limits.StallTimeout, and returns them: their bye cannot be written.
func (b *Broker) stalled(now time.Time) []*Conn {
	b.mu.Lock()
	defer b.unlock(nil)
	var out []*Conn
	limit := b.lim.StallTimeout
	for c := range b.conns {
		r, w := c.rp.stalled(now, limit), c.wp.stalled(now, limit)
		if r || w {
			b.evict(c, stalledWhy(limit))
			out = append(out, c)
		}
	}
	return out
}

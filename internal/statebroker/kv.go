package statebroker

import (
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// entry is one key. Its value is never changed in place: a write stores
// a new slice, so a reader may encode a value after the lock is released.
type entry struct {
	key string
	val []byte
	exp time.Time // zero: no expiry
	idx int       // index in the expiry heap, or -1
}

func (e *entry) cost() int64 { return int64(len(e.key)+len(e.val)) + EntryOverhead }

// lookup returns the live entry for key; an expired one is removed (and
// its watchers told) on the way.
func (b *Broker) lookup(key string, now time.Time) *entry {
	e := b.kv[key]
	if e == nil {
		return nil
	}
	if !e.exp.IsZero() && !now.Before(e.exp) {
		b.remove(e, statewire.EvExpire)
		return nil
	}
	return e
}

// put stores val under key with expiry exp (keep: leave an existing
// entry's expiry as it is). It reports full when a limit stops it.
func (b *Broker) put(key string, val []byte, exp time.Time, keep bool, now time.Time) (full bool) {
	e := b.lookup(key, now)
	if e == nil {
		if len(b.kv) >= b.lim.MaxKeys {
			return true
		}
		e = &entry{key: key, idx: -1}
		if b.bytes+e.cost()+int64(len(val)) > b.lim.MaxBytes {
			return true
		}
		b.kv[key] = e
		b.bytes += e.cost()
	} else if b.bytes+int64(len(val)-len(e.val)) > b.lim.MaxBytes {
		return true
	}
	b.bytes += int64(len(val) - len(e.val))
	e.val = val
	if !keep {
		b.setExpiry(e, exp)
	}
	b.notify(key, statewire.EvSet, val)
	return false
}

// remove deletes e and tells its watchers why (ev).
func (b *Broker) remove(e *entry, ev byte) {
	delete(b.kv, e.key)
	b.bytes -= e.cost()
	b.setExpiry(e, time.Time{})
	b.notify(e.key, ev, nil)
}

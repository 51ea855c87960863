package state

import (
	"context"
	"fmt"
	"sync"
)

// feed is the buffer between a subscription's source (a worker channel's
// read goroutine, a Redis connection) and its reader. Putting never
// blocks: past max items the oldest is dropped, and the reader gets a
// notice where items went missing. A goroutine (run) hands the items to
// the reader's channel and closes it at the end; an item put while the
// reader waits on its channel, with nothing before it, goes to the reader
// at once.
type feed[T any] struct {
	out    chan T
	notice func(error) T // makes a notice item
	max    int
	wake   chan struct{}

	mu     sync.Mutex
	items  []slot[T]
	head   int
	ended  error // set by end: what is buffered is delivered, then a notice
	busy   bool  // run holds an item it has not delivered yet
	closed bool  // run has ended: out is closed
}

// slot is a buffered item, and what was lost just before it.
type slot[T any] struct {
	v     T
	has   bool   // false for a notice only
	lost  uint64 // items lost just before this one
	cause error  // why, when not for slowness (a lost connection)
}

func newFeed[T any](max int, notice func(error) T) *feed[T] {
	return &feed[T]{out: make(chan T), notice: notice, max: max, wake: make(chan struct{}, 1)}
}

// put buffers v; lost is how many items the source lost just before it.
func (f *feed[T]) put(v T, lost uint64) { f.add(slot[T]{v: v, has: true, lost: lost}) }

// warn buffers a notice that items may have been lost because of cause.
func (f *feed[T]) warn(cause error) { f.add(slot[T]{cause: cause}) }

func (f *feed[T]) add(s slot[T]) {
	f.mu.Lock()
	if f.ended != nil || f.closed {
		f.mu.Unlock()
		return
	}
	if s.has && s.lost == 0 && s.cause == nil && f.head == len(f.items) && !f.busy {
		select {
		case f.out <- s.v: // the reader was waiting
			f.mu.Unlock()
			return
		default:
		}
	}
	if len(f.items)-f.head >= f.max {
		f.dropOldest(&s)
	}
	if f.head > 0 && f.head >= len(f.items)/2 {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	f.items = append(f.items, s)
	f.mu.Unlock()
	f.signal()
}

// dropOldest drops the oldest item; what it carried moves to the next
// one (or to s, the item being added).
func (f *feed[T]) dropOldest(s *slot[T]) {
	o := f.items[f.head]
	f.items[f.head] = slot[T]{}
	f.head++
	next := s
	if f.head < len(f.items) {
		next = &f.items[f.head]
	}
	next.lost += o.lost
	if o.has {
		next.lost++
	}
	if next.cause == nil {
		next.cause = o.cause
	}
}

// end stops the feed: the reader gets what is buffered, then a notice
// with err, then its channel closes.
func (f *feed[T]) end(err error) {
	f.mu.Lock()
	if f.ended == nil {
		f.ended = err
	}
	f.mu.Unlock()
	f.signal()
}

func (f *feed[T]) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// take returns the oldest item, or ok=false and why the feed ended (nil:
// it has not).
func (f *feed[T]) take() (s slot[T], ok bool, ended error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy = false
	if f.head == len(f.items) {
		return s, false, f.ended
	}
	s = f.items[f.head]
	f.items[f.head] = slot[T]{}
	f.head++
	f.busy = true
	return s, true, nil
}

// run delivers to the reader until ctx is done or the feed ended, then
// calls cleanup and closes the reader's channel.
func (f *feed[T]) run(ctx context.Context, cleanup func()) {
	defer f.finish()
	defer cleanup()
	for ctx.Err() == nil {
		s, ok, ended := f.take()
		if !ok {
			if ended != nil {
				f.send(ctx, f.notice(ended))
				return
			}
			select {
			case <-f.wake:
			case <-ctx.Done():
			}
			continue
		}
		if (s.lost > 0 || s.cause != nil) && !f.send(ctx, f.notice(dropError(s.lost, s.cause))) {
			return
		}
		if s.has && !f.send(ctx, s.v) {
			return
		}
	}
}

// finish closes the reader's channel, once add can no longer send on it.
func (f *feed[T]) finish() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	close(f.out)
}

func (f *feed[T]) send(ctx context.Context, v T) bool {
	select {
	case f.out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropError describes a loss.
func dropError(lost uint64, cause error) error {
	switch {
	case cause != nil && lost > 0:
		return fmt.Errorf("%w: %d or more lost: %w", ErrDropped, lost, cause)
	case cause != nil:
		return fmt.Errorf("%w: %w", ErrDropped, cause)
	}
	return fmt.Errorf("%w: %d lost: the reader was too slow", ErrDropped, lost)
}

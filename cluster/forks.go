package cluster

// forkBatch is how many new slots the primary forks per turn of its
// loop: a scale to thousands of workers forks them a few at a time, and
// control calls, messages and exits are served in between.
const forkBatch = 8

// forkQueue holds the slots waiting for their first worker, in order.
// The primary's loop owns it.
type forkQueue struct {
	slots []int
	now   chan struct{} // closed: ready() when the queue is not empty
}

func newForkQueue() forkQueue {
	now := make(chan struct{})
	close(now)
	return forkQueue{now: now}
}

// ready is a channel that is ready when slots wait, nil (never ready)
// otherwise, for the loop's select.
func (q *forkQueue) ready() <-chan struct{} {
	if len(q.slots) == 0 {
		return nil
	}
	return q.now
}

// addSlot makes slot s and queues its first fork.
func (p *Primary) addSlot(s int) {
	p.slots[s] = &slot{queued: true}
	p.forks.slots = append(p.forks.slots, s)
}

// startQueued forks the first forkBatch queued slots that still wait:
// a slot scaled away or stopped meanwhile is skipped.
func (p *Primary) startQueued() {
	n := min(forkBatch, len(p.forks.slots))
	batch := p.forks.slots[:n]
	p.forks.slots = p.forks.slots[n:]
	if len(p.forks.slots) == 0 {
		p.forks.slots = nil // let the backing array go
	}
	for _, s := range batch {
		sl := p.slots[s]
		if sl == nil || !sl.queued || p.stopping {
			continue
		}
		sl.queued = false
		if sl.current == nil {
			p.startSlot(s)
		}
	}
}

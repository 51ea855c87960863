package cluster

import (
	"encoding/json"
	"sync"
	"time"
)

// relayPoll is how often a congested outbox looks whether its worker's
// channel has room again.
const relayPoll = 5 * time.Millisecond

// outbox holds the relayed messages on their way to one worker, at most
// relayMaxQueued bytes, and sends them in order on a goroutine that runs
// only while some wait: a worker slow to read holds up only its own. It
// fills at most share bytes of the worker's channel queue, so relayed
// messages alone never push a slow worker past Config.MaxQueue (which
// would cut it off): the surplus waits here, then is dropped.
type outbox struct {
	m       *member
	share   int
	mu      sync.Mutex
	queue   []json.RawMessage
	bytes   int
	sending bool
}

// put queues line, unless the outbox is full.
func (o *outbox) put(line json.RawMessage) bool {
	o.mu.Lock()
	if o.bytes+len(line) > relayMaxQueued {
		o.mu.Unlock()
		return false
	}
	o.queue = append(o.queue, line)
	o.bytes += len(line)
	start := !o.sending
	o.sending = true
	o.mu.Unlock()
	if start {
		go o.drain()
	}
	return true
}

// drain sends until the queue is empty; a closed channel empties it.
func (o *outbox) drain() {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.sending = false
			o.queue = nil
			o.mu.Unlock()
			return
		}
		line := o.queue[0]
		o.queue[0] = nil
		o.queue = o.queue[1:]
		o.bytes -= len(line)
		o.mu.Unlock()
		if !o.room(len(line)) || o.m.cmd.Channel().Send(line) != nil {
			o.mu.Lock()
			o.queue, o.bytes = o.queue[:0], 0
			o.mu.Unlock()
		}
	}
}

// room waits until n more bytes fit in the worker's share of its channel
// queue (or the queue is empty); false: the channel closed.
func (o *outbox) room(n int) bool {
	ch := o.m.cmd.Channel()
	for q := ch.Queued(); q > 0 && q+n > o.share; q = ch.Queued() {
		t := time.NewTimer(relayPoll)
		select {
		case <-ch.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	return true
}

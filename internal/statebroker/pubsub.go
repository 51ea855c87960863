package statebroker

import "github.com/herdhq/herd/internal/statewire"

// sub is one subscription (to channels) or watch (of a key) of a client.
type sub struct {
	c     *Conn
	id    uint64
	seq   uint64 // pushes so far
	chans []string
	key   string
	watch bool
}

// push queues body for the subscriber, numbered.
func (s *sub) push(body *payload) {
	s.seq++
	s.c.enqueue(push{head: statewire.AppendPushHead(make([]byte, 0, 24), s.id, s.seq, body.b), body: body})
}

// size is what s counts in its client's limits: channels (or a key), and
// their names' bytes.
func (s *sub) size() (n, bytes int) {
	if s.watch {
		return 1, len(s.key)
	}
	for _, ch := range s.chans {
		bytes += len(ch)
	}
	return len(s.chans), bytes
}

// addSub registers s with its client, checking the client's limits.
func (b *Broker) addSub(s *sub) *statewire.Response {
	c := s.c
	if c.subs[s.id] != nil {
		return fail(statewire.CodeSubExists, "subscription id in use")
	}
	n, bytes := s.size()
	if c.nsubs+n > b.lim.MaxSubs || c.subBytes+bytes > b.lim.MaxSubBytes {
		return fail(statewire.CodeFull, "too many subscriptions and watches for one client (their channels, keys, or names' bytes)")
	}
	c.subs[s.id] = s
	c.nsubs += n
	c.subBytes += bytes
	if s.watch {
		addTo(b.watches, s.key, s)
		return ok()
	}
	for _, ch := range s.chans {
		addTo(b.chans, ch, s)
	}
	return ok()
}

// unsubscribe removes s everywhere.
func (b *Broker) unsubscribe(s *sub) {
	delete(s.c.subs, s.id)
	n, bytes := s.size()
	s.c.nsubs -= n
	s.c.subBytes -= bytes
	if s.watch {
		removeFrom(b.watches, s.key, s)
		return
	}
	for _, ch := range s.chans {
		removeFrom(b.chans, ch, s)
	}
}

func addTo(m map[string]map[*sub]struct{}, name string, s *sub) {
	set := m[name]
	if set == nil {
		set = map[*sub]struct{}{}
		m[name] = set
	}
	set[s] = struct{}{}
}

func removeFrom(m map[string]map[*sub]struct{}, name string, s *sub) {
	if set := m[name]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m, name)
		}
	}
}

// publish queues a message for every subscriber of channel; body is its
// encoded end (statewire.PushBody).
func (b *Broker) publish(channel string, body []byte) {
	b.fanout(b.chans[channel], body)
}

// fanout queues body for every subscription of set, holding it once:
// when the broker's total (Limits.TotalQueueBytes) has no room for it,
// even after evicting the slowest clients, the push is dropped for all,
// who see the gap.
func (b *Broker) fanout(set map[*sub]struct{}, body []byte) {
	if len(set) == 0 {
		return
	}
	if !b.room(int64(len(body))) {
		for s := range set {
			s.seq++
			s.c.dropped.Add(1)
		}
		return
	}
	p := b.newPayload(body)
	for s := range set {
		s.push(p)
	}
	p.release()
}

// notify tells key's watchers about a change.
func (b *Broker) notify(key string, ev byte, val []byte) {
	set := b.watches[key]
	if len(set) == 0 {
		return
	}
	b.fanout(set, statewire.PushBody(statewire.TypeChange, ev, key, val))
}

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

// push queues body (statewire.PushBody) for the subscriber, numbered.
func (s *sub) push(body []byte) {
	s.seq++
	s.c.enqueue(statewire.AppendPush(make([]byte, 0, 24+len(body)), s.id, s.seq, body))
}

// addSub registers s with its client, checking the client's limit.
func (b *Broker) addSub(s *sub) *statewire.Response {
	c := s.c
	if c.subs[s.id] != nil {
		return fail(statewire.CodeSubExists, "subscription id in use")
	}
	if len(c.subs) >= b.lim.MaxSubs {
		return fail(statewire.CodeFull, "too many subscriptions and watches for one client")
	}
	c.subs[s.id] = s
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
	for s := range b.chans[channel] {
		s.push(body)
	}
}

// notify tells key's watchers about a change.
func (b *Broker) notify(key string, ev byte, val []byte) {
	set := b.watches[key]
	if len(set) == 0 {
		return
	}
	body := statewire.PushBody(statewire.TypeChange, ev, key, val)
	for s := range set {
		s.push(body)
	}
}

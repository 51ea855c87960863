package cluster

// Sticky routing: rendezvous (highest random weight) hashing of a
// client's identity over the slots of the routable workers. A slot keeps
// its number over restarts and reloads, so a client stays on its slot's
// successor; scaling from N to N+1 slots moves only the clients whose new
// slot wins (about 1/(N+1) of them), and a slot with no routable worker
// sends its clients to their next slot in rendezvous order, leaving every
// other client where it was.

import "sync"

// slotRouter is a router that belongs to a slot.
type slotRouter interface {
	router
	// slotID returns the worker's slot and its id (higher: newer).
	slotID() (slot, id int)
}

// stickyKeys holds the identity hash of each connection the dispatcher
// owns under Sticky, from accept (or identification) until a worker took
// it or it was closed: a declined or parked connection is routed again by
// the same key.
type stickyKeys struct {
	mu   sync.Mutex
	keys map[int]uint64
}

func newStickyKeys() *stickyKeys { return &stickyKeys{keys: map[int]uint64{}} }

// remember records fd's key.
func (s *stickyKeys) remember(fd int, key uint64) {
	s.mu.Lock()
	s.keys[fd] = key
	s.mu.Unlock()
}

// key returns fd's key (0 if unknown).
func (s *stickyKeys) key(fd int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[fd]
}

// forget drops fd's key; call it before fd is closed (its number may be
// reused by the next accept at once).
func (s *stickyKeys) forget(fd int) {
	s.mu.Lock()
	delete(s.keys, fd)
	s.mu.Unlock()
}

// stickyPick returns the router other than skip whose slot scores highest
// for key; of two routers in one slot (a reload's overlap), the newer.
func stickyPick(set []router, key uint64, skip router) router {
	var best router
	var bestScore uint64
	bestID := 0
	for _, r := range set {
		sr, ok := r.(slotRouter)
		if !ok || r == skip {
			continue
		}
		slot, id := sr.slotID()
		score := slotScore(key, slot)
		if best == nil || score > bestScore || (score == bestScore && id > bestID) {
			best, bestScore, bestID = r, score, id
		}
	}
	return best
}

// slotScore is key's rendezvous weight for slot.
func slotScore(key uint64, slot int) uint64 {
	return mix64(key ^ mix64(uint64(slot)*0x9e3779b97f4a7c15))
}

// mix64 is SplitMix64's finalizer: every input bit flips about half of
// the output bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// identityKey hashes a client's identity (FNV-1a): its address bytes or
// a header's value.
func identityKey(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// slotID is the member's slot and id, for Sticky.
func (m *member) slotID() (slot, id int) { return m.slot, m.id }

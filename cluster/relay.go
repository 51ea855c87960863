package cluster

// Worker-to-worker messages for Node workers, with no code in a primary:
// herd does what @socket.io/cluster-adapter's setupPrimary() does in a
// Node primary (a message marked source "_sio_adapter" goes to every
// other worker, and a response to the one worker whose adapter asked),
// and, when a worker exits, tells the others that its adapters closed
// (as their own close would: they stop waiting for its answers at once,
// not after socket.io's heartbeat timeout); it relays herd's own form, {herd: "broadcast", ...}, to every other
// Node worker as it is. Relayed messages do not reach Config.OnMessage.

import (
	"bytes"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/herdhq/herd/ipc"
)

// The relay's bounds: what one worker can make the primary hold.
const (
	relayMaxMessage = 1 << 20 // a longer message is dropped, not relayed
	relayMaxQueued  = 4 << 20 // bytes waiting for one worker; past it, messages to it are dropped
	relayMaxUIDs    = 64      // adapter ids remembered per worker (one per socket.io namespace)
)

// The messages the relay knows.
const (
	sioSource                 = "_sio_adapter" // @socket.io/cluster-adapter's marker
	sioFetchSocketsResponse   = 8              // socket.io-adapter's MessageType values that answer one requester
	sioServerSideEmitResponse = 10
	sioAdapterClose           = 13
	herdBroadcast             = "broadcast" // {herd: "broadcast"}: to every other Node worker
)

// relay passes messages between Node workers. The loop publishes the
// workers (setPeers); the workers' message goroutines relay.
type relay struct {
	mu      sync.Mutex
	peers   []*member
	boxes   map[*member]*outbox
	uids    map[string]sioAdapter // adapter id → where it lives
	uidsOf  map[*member]int
	dropped atomic.Int64 // messages not relayed: too long, or a full outbox
	share   int          // of a worker's channel queue, what relayed messages may fill
	warn    func(string)
}

// newRelay returns a relay for workers whose channels queue at most
// maxQueue bytes (Config.MaxQueue): relayed messages fill at most a
// quarter of that, up to relayMaxQueued.
func newRelay(warn func(string), maxQueue int) *relay {
	return &relay{boxes: map[*member]*outbox{}, uids: map[string]sioAdapter{}, uidsOf: map[*member]int{},
		share: min(relayMaxQueued, max(maxQueue/4, 1)), warn: warn}
}

// sioAdapter is one socket.io adapter (a namespace's) in a worker.
type sioAdapter struct {
	m   *member
	nsp string
}

// relayHead is the part of a message the relay reads.
type relayHead struct {
	Source       string `json:"source,omitempty"`
	Herd         string `json:"herd,omitempty"`
	Type         int    `json:"type,omitempty"`
	UID          string `json:"uid,omitempty"`
	RequesterUID string `json:"requesterUid,omitempty"`
	Nsp          string `json:"nsp,omitempty"`
}

// take relays msg from a Node worker if it is for other workers, and
// reports whether it was (then it is consumed).
func (r *relay) take(from *member, msg *ipc.Message) bool {
	d := msg.Data
	if msg.Handle != nil || len(d) == 0 || d[0] != '{' ||
		(!bytes.Contains(d, []byte(sioSource)) && !bytes.Contains(d, []byte(`"herd"`))) {
		return false
	}
	var h relayHead
	if len(d) > relayMaxMessage {
		r.drop("a worker-to-worker message over 1 MiB was dropped")
		return true
	}
	if json.Unmarshal(d, &h) != nil || (h.Source != sioSource && h.Herd != herdBroadcast) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.Source == sioSource && (h.Type == sioFetchSocketsResponse || h.Type == sioServerSideEmitResponse) {
		r.send(r.uids[h.RequesterUID].m, d)
		return true
	}
	if h.Source == sioSource {
		r.learn(from, h.UID, h.Nsp)
	}
	for _, m := range r.peers {
		if m != from {
			r.send(m, d)
		}
	}
	return true
}

// learn records that adapter uid of namespace nsp lives in worker m
// (r.mu held).
func (r *relay) learn(m *member, uid, nsp string) {
	if uid == "" || r.uids[uid].m == m || r.uidsOf[m] >= relayMaxUIDs {
		return
	}
	r.uids[uid] = sioAdapter{m: m, nsp: nsp}
	r.uidsOf[m]++
}

// send queues line for m (r.mu held); nil m drops it.
func (r *relay) send(m *member, line json.RawMessage) {
	if b := r.boxes[m]; b != nil && !b.put(line) {
		r.drop("a worker-to-worker message was dropped: the worker's relay queue is full (4 MiB)")
	}
}

func (r *relay) drop(why string) {
	if r.dropped.Add(1) == 1 {
		r.warn(why + " (logged once)")
	}
}

// setPeers publishes the Node workers among members; it runs on the loop.
func (r *relay) setPeers(members map[int]*member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers = r.peers[:0]
	live := map[*member]*outbox{}
	for _, m := range members {
		if m.node == nil {
			continue
		}
		r.peers = append(r.peers, m)
		if live[m] = r.boxes[m]; live[m] == nil {
			live[m] = &outbox{m: m, share: r.share}
		}
	}
	r.boxes = live
	for uid, a := range r.uids {
		if live[a.m] == nil {
			delete(r.uids, uid)
			delete(r.uidsOf, a.m)
			r.closed(uid, a.nsp)
		}
	}
}

// closed tells every worker that adapter uid is gone (r.mu held).
func (r *relay) closed(uid, nsp string) {
	line, err := json.Marshal(relayHead{Source: sioSource, Type: sioAdapterClose, UID: uid, Nsp: nsp})
	if err != nil {
		return
	}
	for _, m := range r.peers {
		r.send(m, line)
	}
}

package cluster

import (
	"sort"
	"strings"
	"sync/atomic"

	"github.com/herdhq/herd/ipc"
)

// Stats is a snapshot of a running cluster for monitoring (package
// metrics reads it). Counters count from Run's start.
type Stats struct {
	Workers []WorkerStats // the live workers, by id
	Desired int           // the number of workers the cluster keeps (Config.Workers, then Scale)
	Totals  Totals        // the whole cluster, exited workers included
}

// WorkerStats describes one live worker.
type WorkerStats struct {
	WorkerInfo
	Generation int    // the reload generation it was started for, from 0
	Protocol   string // "herd" (the Go library), "node", or "" (none, or not yet)
	// OpenKnown says that Conns counts its open connections: it speaks
	// herd's protocol under LeastConn, the only case where workers report
	// closed connections. Otherwise Conns is only what Handed says.
	OpenKnown bool
	// Suspected is set while it has missed heartbeats: it gets no
	// round-robin traffic (see Config.HeartbeatTimeout).
	Suspected   bool
	MessagesIn  uint64 // user messages it sent (Config.OnMessage)
	MessagesOut uint64 // user messages sent to it (Primary.Send)
	InternalIn  uint64 // herd's or Node's own messages it sent
	InternalOut uint64 // herd's or Node's own messages sent to it, connections handed over included
}

// Totals are the cluster's counters.
type Totals struct {
	Started  uint64 // worker processes started
	Crashes  uint64 // workers that exited unexpectedly
	Restarts uint64 // replacements of a crashed, leaving or unhealthy worker
	// MemoryReplacements and HeartbeatReplacements count the workers
	// replaced for Config.MaxMemory and Config.HeartbeatTimeout.
	MemoryReplacements    uint64
	HeartbeatReplacements uint64
	Reloads               uint64 // rolling reloads started
	GiveUps               uint64 // 0, or 1 once the cluster gave up (ErrGaveUp)
	Handed                uint64 // connections handed to workers
	MessagesIn            uint64 // as in WorkerStats, summed
	MessagesOut           uint64
	InternalIn            uint64
	InternalOut           uint64
}

// memberCounts are a worker's message counts. The channel's goroutines
// and Send count off the loop, hence atomics.
type memberCounts struct {
	userIn, userOut, internalIn, internalOut atomic.Uint64
}

// Stats returns a snapshot of the cluster; it fails once Run has returned.
func (p *Primary) Stats() (Stats, error) {
	var st Stats
	err := p.do(func() { st = p.stats() })
	return st, err
}

// stats builds the snapshot on the loop.
func (p *Primary) stats() Stats {
	st := Stats{Desired: p.want, Totals: p.totals}
	for _, m := range p.members {
		w := p.workerStats(m)
		st.Workers = append(st.Workers, w)
		addWorker(&st.Totals, w)
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st
}

func (p *Primary) workerStats(m *member) WorkerStats {
	w := WorkerStats{WorkerInfo: m.info(p.slots[m.slot].restartsOrZero()), Generation: m.gen,
		Suspected:   m.health.suspect,
		MessagesIn:  m.counts.userIn.Load(),
		MessagesOut: m.counts.userOut.Load(),
		InternalIn:  m.counts.internalIn.Load(),
		InternalOut: m.counts.internalOut.Load() + uint64(max(m.handed.Load(), 0)),
	}
	switch m.speaker.(type) {
	case herdSpeaker:
		w.Protocol = "herd"
		w.OpenKnown = p.cfg.Policy == LeastConn
	case *nodeWorker:
		w.Protocol = "node"
	}
	return w
}

// addWorker adds a worker's counters to t.
func addWorker(t *Totals, w WorkerStats) {
	t.Handed += uint64(max(w.Handed, 0))
	t.MessagesIn += w.MessagesIn
	t.MessagesOut += w.MessagesOut
	t.InternalIn += w.InternalIn
	t.InternalOut += w.InternalOut
}

// retire keeps an exited worker's counters in the totals.
func (p *Primary) retire(m *member) {
	addWorker(&p.totals, p.workerStats(m))
}

// count updates the totals with an event; emit calls it on the loop.
func (p *Primary) count(e Event) {
	t := &p.totals
	switch e.Type {
	case EventFork:
		t.Started++
	case EventExit:
		if !e.Expected {
			t.Crashes++
		}
	case EventRestart:
		t.Restarts++
	case EventGiveUp:
		t.GiveUps++
	case EventReload:
		if strings.HasPrefix(e.Detail, "started") {
			t.Reloads++
		}
	case EventReplace:
		switch e.Detail {
		case replaceMemory:
			t.MemoryReplacements++
		case replaceHeartbeat:
			t.HeartbeatReplacements++
		}
	}
}

// countInternal counts the internal messages a worker's channel receives.
func countInternal(m *member, o *ipc.Options) {
	next := o.Internal
	o.Internal = func(im *ipc.Message) {
		m.counts.internalIn.Add(1)
		next(im)
	}
}

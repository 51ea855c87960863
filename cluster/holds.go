package cluster

import (
	"encoding/json"
	"fmt"
	"syscall"
)

// DefaultMaxWorkerSockets is Config.MaxWorkerSockets's default.
const DefaultMaxWorkerSockets = 64

// maxNodeData bounds the queryServer data the primary keeps for a socket
// (an https server's TLS ticket keys, about 100 bytes): larger data is
// echoed to the worker that sent it and not kept.
const maxNodeData = 4 << 10

// A socket the primary bound because a worker asked for it lives as long
// as a worker holds it, as in Node's primary: each worker holds the
// sockets it was given (herd's listen, Node's queryServer) until it exits
// or (Node) closes its last server on it. A worker that exits while no
// other worker of its slot is ready (a crash, a Leave) leaves its sockets
// to the slot until the slot's next worker is ready, so a port outlives a
// restart as it outlives a reload. Config.Listen's sockets are
// the primary's own and stay open until Run returns.

// hold gives worker m socket s, within Config.MaxWorkerSockets distinct
// sockets; past it the request fails with EMFILE (logged once per
// worker) and s closes if nobody holds it.
func (p *Primary) hold(m *member, s *socket) error {
	if m.holds[s.key] {
		return nil
	}
	if len(m.holds) >= p.cfg.MaxWorkerSockets {
		p.dropUnheld(s)
		err := fmt.Errorf("cluster: worker %d already holds %d sockets, the most one worker may ask for: %w",
			m.id, len(m.holds), syscall.EMFILE)
		if !m.refusedSock {
			m.refusedSock = true
			p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: err, Detail: "refusing its further sockets"})
		}
		return err
	}
	if m.holds == nil {
		m.holds = map[string]bool{}
	}
	m.holds[s.key] = true
	s.holders++
	return nil
}

// unhold releases worker m's hold on the socket key.
func (p *Primary) unhold(m *member, key string) {
	if !m.holds[key] {
		return
	}
	delete(m.holds, key)
	p.release(key)
}

// release drops one hold on the socket key, and closes it once unheld.
func (p *Primary) release(key string) {
	if s := p.sockets[key]; s != nil {
		s.holders--
		p.dropUnheld(s)
	}
}

func (p *Primary) releaseAll(keys map[string]bool) {
	for key := range keys {
		p.release(key)
	}
}

// dropUnheld closes a socket no worker holds, unless the primary owns it
// (Config.Listen).
func (p *Primary) dropUnheld(s *socket) {
	if s.holders > 0 || s.owned || p.sockets[s.key] != s {
		return
	}
	delete(p.sockets, s.key)
	s.close()
}

// dropHolds releases the sockets of an exited worker, unless its slot
// has no ready worker left (a crash, a Leave or a replacement whose
// successor is still starting): then the slot keeps them until its next
// worker is ready, so that a port outlives the change of worker.
func (p *Primary) dropHolds(m *member) {
	sl := p.slots[m.slot]
	if sl == nil || p.stopping || p.slotServing(m) {
		p.releaseAll(m.holds)
		return
	}
	if sl.holds == nil {
		sl.holds = map[string]bool{}
	}
	for key := range m.holds {
		if sl.holds[key] {
			p.release(key) // the slot holds it already
		} else {
			sl.holds[key] = true
		}
	}
}

// slotServing reports whether a worker other than m serves m's slot.
func (p *Primary) slotServing(m *member) bool {
	for _, o := range p.members {
		if o != m && o.slot == m.slot && o.state == StateReady {
			return true
		}
	}
	return false
}

// dropSlotHolds releases what a slot's previous worker left it.
func (p *Primary) dropSlotHolds(sl *slot) {
	if sl != nil {
		p.releaseAll(sl.holds)
		sl.holds = nil
	}
}

// shareNodeData returns the data every worker of s gets in its
// queryServer reply: the first non-null data a worker sent for it (an
// https server's TLS ticket keys, which must be echoed, and shared so
// that sessions resume on any worker), else data. Only data of at most
// maxNodeData bytes is kept; it goes with the socket.
func (s *socket) shareNodeData(data json.RawMessage) json.RawMessage {
	if s.nodeData != nil {
		return s.nodeData
	}
	if len(data) > 0 && len(data) <= maxNodeData && string(data) != "null" {
		s.nodeData = data
	}
	return data
}

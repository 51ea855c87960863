package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/herdhq/herd/ipc"
)

// cmdNode marks the messages of Node's cluster protocol.
const cmdNode = "NODE_CLUSTER"

// nodeMsg handles a message of Node's cluster protocol on the loop. The
// answers to newconn never get here (nodeWorker.answered takes them).
func (p *Primary) nodeMsg(m *member, im *ipc.Message) {
	im.CloseHandle() // workers send no handles in this protocol
	w := m.node
	if w == nil {
		return // not started as a Node cluster worker
	}
	var q nodeIn
	if err := json.Unmarshal(im.Data, &q); err != nil {
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: fmt.Errorf("cluster: bad Node message: %w", err)})
		return
	}
	w.watch()
	if m.speaker == nil {
		p.nodeOnline(m)
	}
	p.online(m, w)
	switch q.Act {
	case nodeActQuery:
		p.nodeQuery(m, w, &q)
	case nodeActListening:
		p.nodeListening(m, w, &q)
	case nodeActClose:
		p.nodeClose(m, w, q.Key)
	case nodeActLeaving:
		p.nodeLeaving(m, w, &q)
	}
}

// nodeQuery answers a server's queryServer: round-robin and
// least-connections reply with the address (newconn messages follow);
// shared and reuseport send a bound socket to accept on; UDP is always
// shared. A bind error reaches the worker as its errno.
func (p *Primary) nodeQuery(m *member, w *nodeWorker, q *nodeIn) {
	if m.expected {
		return // as Node: no new server for a worker that is stopping
	}
	w.asked = true
	key := q.handleKey()
	reply := &nodeQueryReply{Cmd: cmdNode, Key: key, Ack: q.Seq, Data: q.Data}
	s, err := p.nodeSocket(q)
	if err == nil {
		err = p.hold(m, s)
	}
	var h *ipc.Handle
	release := func() {}
	if err == nil {
		err = nodeSocketMode(s, q)
		if err == nil {
			h, release, err = nodeHandle(s)
		}
		if err != nil {
			p.unhold(m, s.key)
		}
	}
	if err != nil {
		network, address, _ := q.listenAddr()
		p.listenFailed(m, network, address, err)
		reply.Errno = nodeErrno(err)
		w.send(reply)
		return
	}
	reply.Data = s.shareNodeData(q.Data)
	w.listen(key, s.key)
	m.keys[s.key] = true
	if h == nil {
		reply.Sockname = nodeSocknameOf(s.addr)
		w.send(reply)
	} else {
		reply.Errno = 0
		w.sendHandle(reply, *h)
	}
	release()
	p.refreshRouting()
}

// nodeListening reports a listening server; under ReadyOnListen the
// worker is ready.
func (p *Primary) nodeListening(m *member, w *nodeWorker, q *nodeIn) {
	addr := ""
	if s := p.sockets[w.sockOf(q)]; s != nil {
		addr = s.addr.String()
	}
	p.emit(Event{Type: EventListening, WorkerID: m.id, Pid: m.cmd.Pid(), Addr: addr})
	if p.cfg.Readiness == ReadyOnListen {
		p.markReady(m)
	}
}

// nodeClose stops routing a socket to a worker whose last server on it
// closed.
func (p *Primary) nodeClose(m *member, w *nodeWorker, key string) {
	sock, used := w.forget(key)
	if sock == "" || used {
		return
	}
	delete(m.keys, sock)
	p.refreshRouting()
	p.unhold(m, sock)
}

// nodeLeaving acknowledges a worker's own disconnect or kill: its exit is
// expected, so it is not replaced, and it gets no more connections.
func (p *Primary) nodeLeaving(m *member, w *nodeWorker, q *nodeIn) {
	w.leaving.Store(true)
	w.send(&nodeCtl{Cmd: cmdNode, Ack: q.Seq})
	p.drain(m)
}

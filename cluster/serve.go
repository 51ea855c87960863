package cluster

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// internal handles a worker's internal message on the loop.
func (p *Primary) internal(m *member, im *ipc.Message) {
	switch im.Cmd {
	case cmdHerd:
		p.herdMsg(m, im)
	case cmdNode:
		p.nodeMsg(m, im)
	case cmdPreload:
		p.preloadMsg(m, im)
	default:
		im.CloseHandle()
	}
}

// online records the protocol a worker speaks, on its first message.
func (p *Primary) online(m *member, s speaker) {
	if m.speaker == nil {
		m.speaker = s
		p.emit(p.memberEvt(EventOnline, m))
	}
}

// herdMsg handles a message of herd's own protocol.
func (p *Primary) herdMsg(m *member, im *ipc.Message) {
	req, err := decodeMsg(im.Data)
	if err != nil {
		im.CloseHandle()
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: fmt.Errorf("cluster: bad message: %w", err)})
		return
	}
	if m.speaker == nil {
		// herd's own worker reads descriptors in order: connections may
		// travel without waiting for each one's acknowledgement.
		m.cmd.Channel().SetHandleWindow(handleWindow)
	}
	p.online(m, herdSpeaker{})
	p.beat(m, req.Act == actHeartbeat)
	switch req.Act {
	case actListen:
		p.listen(m, req)
	case actReady:
		p.markReady(m)
	case actLeave:
		p.leave(m, req.Reason)
	case actClosed:
		m.closed.Add(int64(req.N))
	case actRequeue:
		p.requeue(m, req.Key, im)
	}
	im.CloseHandle()
}

// listen answers a worker's request for a socket.
func (p *Primary) listen(m *member, req *msg) {
	reply := newMsg(actListen)
	reply.Ack = req.Seq
	s, err := p.socketFor(req.Network, req.Address)
	if err == nil {
		err = p.hold(m, s)
	}
	if err != nil {
		p.listenFailed(m, req.Network, req.Address, err)
		reply.Error, reply.Errno = err.Error(), errnoOf(err)
		m.send(reply)
		return
	}
	reply.Key, reply.Mode, reply.Address = s.key, s.mode, s.addr.String()
	if err := p.sendSocket(m, s, reply); err != nil {
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: err})
		p.unhold(m, s.key)
		return
	}
	m.keys[s.key] = true
	p.emit(Event{Type: EventListening, WorkerID: m.id, Pid: m.cmd.Pid(), Addr: s.addr.String()})
	if p.cfg.Readiness == ReadyOnListen {
		p.markReady(m)
	}
	p.refreshRouting()
}

// sendSocket sends the reply, with the socket's handle when it has one.
// The handle goes asynchronously: the loop never waits for a worker.
func (p *Primary) sendSocket(m *member, s *socket, reply *msg) error {
	h, release, err := s.handleFor()
	if err != nil {
		reply.Error, reply.Errno = err.Error(), errnoOf(err)
		m.send(reply)
		return err
	}
	if h == nil {
		return m.send(reply)
	}
	m.cmd.Channel().SendHandleFunc(reply, h, func(error) { release() })
	return nil
}

// socketFor returns the socket for an address, binding it on first use.
func (p *Primary) socketFor(network, address string) (*socket, error) {
	key := sockKey(network, address)
	if s := p.sockets[key]; s != nil {
		if err := s.ensureDispatcher(&p.cfg); err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := openSocket(network, address, p.cfg.Policy)
	if err != nil {
		return nil, err
	}
	if err := s.ensureDispatcher(&p.cfg); err != nil {
		s.close()
		return nil, err
	}
	p.sockets[key] = s
	return s, nil
}

// leave handles a worker's fatal error: its replacement starts at once,
// and it drains.
func (p *Primary) leave(m *member, reason string) {
	p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: fmt.Errorf("cluster: worker %d is leaving: %s", m.id, reason)})
	s := p.slots[m.slot]
	p.drain(m)
	if s == nil || s.current != m || p.stopping {
		return
	}
	s.current = nil
	p.crashed(m.slot, m.started, fmt.Errorf("worker %d left: %s", m.id, reason))
}

// requeue routes a connection a worker gave back.
func (p *Primary) requeue(m *member, key string, im *ipc.Message) {
	s := p.sockets[key]
	if s == nil || s.disp == nil || im.Handle == nil {
		return
	}
	fd, err := dupOf(im.Handle)
	if err != nil {
		return
	}
	m.handed.Add(-1)
	s.disp.reroute(fd, m)
}

// dupOf returns a duplicate of a received connection's descriptor.
func dupOf(h any) (int, error) {
	sc, ok := h.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	err = rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	return fd, errors.Join(err, derr)
}

// errnoOf extracts a system error number, for the worker to rebuild.
func errnoOf(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return int(syscall.EINVAL)
	}
	return 0
}

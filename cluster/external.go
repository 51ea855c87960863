package cluster

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrListen wraps the error of a Config.Listen address that Run could not
// bind (errors.Is(err, syscall.EADDRINUSE) tells a port in use).
var ErrListen = errors.New("cluster: cannot listen")

// Addr is an address the primary binds before it forks any worker
// (Config.Listen), named as net.Listen and net.ListenPacket name theirs.
type Addr struct {
	Network string // "tcp", "tcp4", "tcp6", "unix", "udp", "udp4" or "udp6"
	Address string // "127.0.0.1:8080", ":8080", "/run/app.sock"
}

// String is the address as "network address".
func (a Addr) String() string { return sockKey(a.Network, a.Address) }

// bindListen binds Config.Listen, in order, before any worker is forked.
// Each socket is registered under the key a worker's Listen(network,
// address) asks for, so workers that speak herd's protocol share it by
// the policy. On error nothing stays bound.
func (p *Primary) bindListen() error {
	for _, a := range p.cfg.Listen {
		f, err := p.bindAddr(a)
		if err != nil {
			p.closeListenFiles()
			p.closeSockets()
			p.sockets = map[string]*socket{}
			return err
		}
		p.listenFiles = append(p.listenFiles, f)
	}
	return nil
}

// bindAddr binds one address and returns it as a file for ExtraFiles.
// Under ReusePort it is one socket shared by every worker: a socket of
// the group that nobody accepted on would hold its share of connections.
func (p *Primary) bindAddr(a Addr) (*os.File, error) {
	if p.sockets[a.String()] != nil {
		return nil, fmt.Errorf("%w %s: listed twice", ErrListen, a)
	}
	policy := p.cfg.Policy
	if policy == ReusePort {
		policy = Shared
	}
	s, err := openSocket(a.Network, a.Address, policy)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrListen, a, err)
	}
	f, err := s.activationFile(a.String())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%w %s: %w", ErrListen, a, err)
	}
	s.owned = true
	p.sockets[a.String()] = s
	p.emit(Event{Type: EventListening, Addr: s.addr.String(), Detail: "bound " + a.String()})
	return f, nil
}

// activationFile returns a duplicate of the socket as a file, in blocking
// mode as systemd passes sockets. The file is not pollable, so os/exec
// passes it as it is (a net package file would be switched to blocking
// mode on every fork, under the round-robin dispatcher's feet).
func (s *socket) activationFile(name string) (*os.File, error) {
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// ensureDispatcher starts the round-robin dispatcher of a socket bound
// before Run (Config.Listen) when the first worker asks for it: until then
// workers that do not speak herd's protocol accept on it themselves.
func (s *socket) ensureDispatcher(cfg *Config) error {
	if s.disp != nil || (s.mode != modeRR && s.mode != modeLeastConn) {
		return nil
	}
	d, err := newDispatcher(s, cfg)
	if err != nil {
		return err
	}
	s.disp = d
	return nil
}

// ListenFiles returns the sockets of Config.Listen as files, in order,
// for the ExtraFiles of workers that do not speak herd's protocol (with
// LISTEN_FDS, as systemd's socket activation passes them). They are in
// blocking mode, unless a worker that speaks herd's protocol asked for a
// round-robin socket (the dispatcher then accepts on it too, non-blocking).
// They stay open until Run returns: do not close them. Call it from
// Config.Command; it returns nil before Run bound them.
func (p *Primary) ListenFiles() []*os.File {
	return append([]*os.File(nil), p.listenFiles...)
}

func (p *Primary) closeListenFiles() {
	for _, f := range p.listenFiles {
		f.Close()
	}
	p.listenFiles = nil
}

// MarkReady counts worker id as ready, as the worker's own Ready would:
// for readiness the primary learns of another way (a NOTIFY_SOCKET
// READY=1, a health check). A worker that is not starting is left as it
// is; an unknown id is an error.
func (p *Primary) MarkReady(id int) error {
	found := false
	if err := p.do(func() {
		if m := p.members[id]; m != nil {
			found = true
			p.markReady(m)
		}
	}); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("cluster: no worker %d", id)
	}
	return nil
}

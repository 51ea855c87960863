package cluster

import (
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Upgrading the primary's own program without closing a port, as
// cloudflare/tableflip and nginx's binary upgrade do: the running primary
// (the predecessor) gives Sockets to a new process of the new program
// (the successor), which gets them back in Config.Inherited, by key, and
// uses them instead of binding: a listen of the same network and address
// (Config.Listen, a worker's Listen, Node's listen) takes the inherited
// socket. Both primaries serve the sockets side by side until the
// successor's workers are ready; then the predecessor calls HandOver (it
// stops accepting, drains its workers as in a reload and returns from
// Run) and the successor calls TakeOver. Connections queued on a socket
// are never refused or reset: the socket stays open throughout, in one
// process or the other. Starting the successor, passing the files and
// telling the predecessor when to hand over is the caller's part (herd
// upgrade, tableflip's Upgrader); Upgrade in package doc shows it.

// handOverSettle is how long HandOver lets the workers take the
// connections already on their way to them before they drain: a herd
// worker gives back those it has not accepted when it drains, and no
// worker of the predecessor is left to take them then.
const handOverSettle = 200 * time.Millisecond

// Sockets returns a duplicate of every socket the primary holds, by the
// key a successor's Config.Inherited takes it under: Config.Listen's,
// those its workers asked for, and the socket that keeps a SO_REUSEPORT
// group's port. The caller owns the files (close them once passed on).
// They are raw: do not pass them to os/exec (its Fd switches them to
// blocking mode under the dispatchers' feet) but to syscall.StartProcess,
// say, by their Fd from SyscallConn.
func (p *Primary) Sockets() (map[string]*os.File, error) {
	out := map[string]*os.File{}
	var derr error
	err := p.do(func() {
		for key, s := range p.sockets {
			fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				derr = fmt.Errorf("cluster: socket %s: %w", key, err)
				return
			}
			out[key] = os.NewFile(uintptr(fd), key)
		}
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		closeFiles(out)
		return nil, err
	}
	return out, nil
}

// HandOver stops the primary for its successor: its round-robin sockets
// stop accepting (connections already accepted still go to its workers),
// and after handOverSettle its workers drain, as in a stop, while the
// sockets' files (unix sockets) are left in place for the successor. Run
// then returns nil once the workers have exited.
func (p *Primary) HandOver() error {
	err := p.do(func() {
		for _, s := range p.sockets {
			s.keepFile = true
			if s.disp != nil {
				s.disp.stopAccepting()
			}
		}
	})
	if err != nil {
		return err
	}
	select {
	case <-time.After(handOverSettle):
	case <-p.done:
	}
	return p.Stop()
}

// TakeOver makes the primary the owner of what it inherited: its unix
// sockets' files are removed when they close, and the inherited sockets
// no listen took are closed. A successor calls it once its predecessor
// has handed over.
func (p *Primary) TakeOver() error {
	return p.do(func() {
		for _, s := range p.sockets {
			s.keepFile = false
		}
		closeFiles(p.inherited)
		p.inherited = nil
	})
}

// takeInherited returns the inherited socket for key, as openSocket
// would have bound it for network and policy, or nil if there is none.
func (p *Primary) takeInherited(key, network string, policy Policy) (*socket, error) {
	f := p.inherited[key]
	if f == nil {
		return nil, nil
	}
	delete(p.inherited, key)
	defer f.Close()
	fd, err := dupOf(f) // not f.Fd: that would make the socket blocking
	if err != nil {
		return nil, fmt.Errorf("cluster: inherited socket %s: %w", key, err)
	}
	s := &socket{key: key, network: network, fd: fd, keepFile: true, mode: inheritedMode(network, policy)}
	if s.addr, err = socketAddr(network, fd); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("cluster: inherited socket %s: %w", key, err)
	}
	if network == "unix" {
		s.path = s.addr.String()
	}
	return s, nil
}

// inheritedMode is the mode openSocket gives a socket of network under
// policy.
func inheritedMode(network string, policy Policy) string {
	switch {
	case isPacket(network):
		return modeShared
	case policy == ReusePort && network != "unix":
		return modeReusePort
	}
	return policyMode(policy)
}

// socketAddr is the address fd is bound to, as net names it.
func socketAddr(network string, fd int) (net.Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: network}, nil
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
		ta := tcpAddr(sa).(*net.TCPAddr)
		if isPacket(network) {
			return &net.UDPAddr{IP: ta.IP, Port: ta.Port}, nil
		}
		return ta, nil
	}
	return nil, fmt.Errorf("cluster: unknown address family of %T", sa)
}

// closeInherited closes what no listen took, when Run returns.
func (p *Primary) closeInherited() {
	closeFiles(p.inherited)
	p.inherited = nil
}

func closeFiles(fs map[string]*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// socket is one address the primary serves for its workers. It is bound
// once, when the first worker asks (or before any fork, Config.Listen),
// and stays open while a worker holds it (holds.go; Config.Listen's until
// the primary ends), so the port survives restarts and reloads. The primary keeps it as a raw descriptor that Go's poller never
// sees, so connections and datagrams do not wake the primary unless it
// accepts them itself (round robin).
type socket struct {
	key     string
	network string
	addr    net.Addr
	mode    string
	fd      int         // listening (stream), bound (udp), or bound and not listening (reuseport: keeps the port)
	path    string      // a unix socket's file, removed at close
	disp    *dispatcher // rr, leastconn

	owned    bool            // Config.Listen's: open until Run returns
	keepFile bool            // close leaves path in place: a predecessor's or successor's too (inherit.go)
	holders  int             // workers and slots that hold it (holds.go)
	nodeData json.RawMessage // Node's queryServer data for it, shared
}

// sockKey names an address request. Equal keys share one socket.
func sockKey(network, address string) string { return network + " " + address }

func isPacket(network string) bool { return strings.HasPrefix(network, "udp") }

// openSocket binds network/address for the given policy.
func openSocket(network, address string, policy Policy) (*socket, error) {
	s := &socket{key: sockKey(network, address), network: network, fd: -1}
	var err error
	switch {
	case isPacket(network):
		s.mode = modeShared
		s.fd, s.addr, err = packetFD(net.ListenPacket(network, address))
	case policy == ReusePort && strings.HasPrefix(network, "tcp"):
		s.mode = modeReusePort
		s.fd, s.addr, err = reusePortSocket(network, address, false)
	default:
		s.mode = policyMode(policy)
		var l net.Listener
		if l, err = net.Listen(network, address); err == nil {
			s.path = keepUnixFile(l)
		}
		s.fd, s.addr, err = listenerFD(l, err)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// keepUnixFile stops a unix listener from removing its file when the Go
// object is closed (the socket lives on as a raw descriptor), and returns
// the path for the socket's own close.
func keepUnixFile(l net.Listener) string {
	if ul, ok := l.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
		return ul.Addr().String()
	}
	return ""
}

// packetFD returns a duplicate descriptor of pc and its address, and closes pc.
func packetFD(pc net.PacketConn, err error) (int, net.Addr, error) {
	if err != nil {
		return -1, nil, err
	}
	defer pc.Close()
	fd, err := dupOf(pc)
	return fd, pc.LocalAddr(), err
}

func policyMode(p Policy) string {
	switch p {
	case Shared, ReusePort:
		return modeShared
	case LeastConn:
		return modeLeastConn
	}
	return modeRR
}

// handleFor returns what a worker gets for this socket: nil for the
// round-robin modes, else a handle to send, and a release to call once it
// was sent.
func (s *socket) handleFor() (any, func(), error) {
	switch s.mode {
	case modeRR, modeLeastConn:
		return nil, func() {}, nil
	case modeReusePort:
		fd, _, err := reusePortSocket(s.network, s.addr.String(), true)
		if err != nil {
			return nil, nil, err
		}
		return ipc.Handle{Type: ipc.TypeServer, FD: fd}, func() { unix.Close(fd) }, nil
	case modeShared:
		if isPacket(s.network) {
			return ipc.Handle{Type: ipc.TypeDgramSocket, FD: s.fd}, func() {}, nil
		}
		return ipc.Handle{Type: ipc.TypeServer, FD: s.fd}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("cluster: socket %s has no mode", s.key)
}

func (s *socket) close() {
	if s.disp != nil {
		s.disp.close()
	}
	unix.Close(s.fd)
	if s.path != "" && !s.keepFile {
		os.Remove(s.path)
	}
}

// reusePortSocket makes a TCP socket with SO_REUSEADDR and SO_REUSEPORT
// (reusePortOpt) bound to address, listening or not. A bound socket that does not listen
// keeps the port for the group and receives no connections.
func reusePortSocket(network, address string, listen bool) (int, net.Addr, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, reusePortOpt, 1)
		})
		return errors.Join(err, serr)
	}}
	if listen {
		return listenerFD(lc.Listen(context.Background(), network, address))
	}
	return bindKeeper(network, address)
}

// listenerFD returns a duplicate descriptor of l and its address, and closes l.
func listenerFD(l net.Listener, err error) (int, net.Addr, error) {
	if err != nil {
		return -1, nil, err
	}
	defer l.Close()
	fd, err := dupOf(l)
	return fd, l.Addr(), err
}

func sockaddr(network string, ta *net.TCPAddr) (int, unix.Sockaddr) {
	if ip4 := ta.IP.To4(); ip4 != nil || network == "tcp4" {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(sa.Addr[:], ip4)
		}
		return unix.AF_INET, sa
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	return unix.AF_INET6, sa
}

func tcpAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

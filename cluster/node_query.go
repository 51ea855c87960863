package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/herdhq/herd/ipc"
)

// nodeIPv6Only is the queryServer flag for listen({ipv6Only: true}).
const nodeIPv6Only = 1

// errNodeFD refuses listen({fd}): the descriptor is the worker's, which
// Node's primary would open as its own.
var errNodeFD = fmt.Errorf("cluster: listen on a descriptor is not supported for Node workers: %w", syscall.EINVAL)

// listenAddr maps a queryServer to the network and address the primary
// binds: a null address is every interface (as net.Listen's ":port"), a
// negative port a Unix socket path, "udp4"/"udp6" a UDP socket.
func (q *nodeIn) listenAddr() (network, address string, err error) {
	var host string
	if len(q.Address) > 0 && q.Address[0] == '"' {
		json.Unmarshal(q.Address, &host)
	}
	if q.hasFD() {
		return "", "", errNodeFD
	}
	port, err := strconv.Atoi(string(q.Port))
	if err != nil {
		return "", "", fmt.Errorf("cluster: queryServer port %s: %w", q.Port, syscall.EINVAL)
	}
	switch typ := jsText(q.AddressType); {
	case typ == "udp4" || typ == "udp6":
		return typ, net.JoinHostPort(host, strconv.Itoa(port)), nil
	case port < 0:
		if host == "" {
			return "", "", fmt.Errorf("cluster: queryServer without a port or path: %w", syscall.EINVAL)
		}
		return "unix", nodeUnixPath(host), nil
	case typ == "6" && q.Flags&nodeIPv6Only != 0:
		return "tcp6", net.JoinHostPort(host, strconv.Itoa(port)), nil
	}
	return "tcp", net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// hasFD reports whether the query names a descriptor (dgram sends -1 for
// none).
func (q *nodeIn) hasFD() bool {
	n, err := strconv.Atoi(string(q.FD))
	return err == nil && n >= 0
}

// nodeSocket returns the primary's socket for a queryServer. Equal
// addresses share one socket, except port 0: as in Node, each server
// index of a worker that listens on port 0 gets a port of its own, which
// the same index of every other worker shares.
func (p *Primary) nodeSocket(q *nodeIn) (*socket, error) {
	network, address, err := q.listenAddr()
	if err != nil {
		return nil, err
	}
	if _, port, _ := net.SplitHostPort(address); port != "0" || jsText(q.Index) == "0" {
		if s := p.samePort(network, address); s != nil {
			return s, s.ensureDispatcher(&p.cfg)
		}
		return p.socketFor(network, address)
	}
	key := sockKey(network, address) + " #" + jsText(q.Index)
	if s := p.sockets[key]; s != nil {
		return s, nil
	}
	s, err := openSocket(network, address, p.cfg.Policy)
	if err != nil {
		return nil, err
	}
	s.key = key
	if err := s.ensureDispatcher(&p.cfg); err != nil {
		s.close()
		return nil, err
	}
	p.sockets[key] = s
	return s, nil
}

// samePort returns, for a listen(port) without a host, a TCP socket the
// primary already holds on that port under another address (one of
// Config.Listen, say 127.0.0.1:3000): the worker asked for the port, and
// binding every address would fail. nil if there is none, or if the
// address itself is known.
func (p *Primary) samePort(network, address string) *socket {
	host, port, _ := net.SplitHostPort(address)
	if network != "tcp" || host != "" || port == "0" || p.sockets[sockKey(network, address)] != nil {
		return nil
	}
	var found *socket
	for key, s := range p.sockets {
		ta, ok := s.addr.(*net.TCPAddr)
		if ok && strconv.Itoa(ta.Port) == port && !strings.Contains(key, " #") && (found == nil || key < found.key) {
			found = s
		}
	}
	return found
}

// nodeHandle returns the handle a Node worker gets for s: none for the
// round-robin modes, else the socket as Node's cluster sends it
// (net.Native, dgram.Native). release closes the primary's copy once the
// handle is sent.
func nodeHandle(s *socket) (*ipc.Handle, func(), error) {
	h, release, err := s.handleFor()
	if err != nil || h == nil {
		return nil, release, err
	}
	v := h.(ipc.Handle)
	v.Type = ipc.TypeNative
	if isPacket(s.network) {
		v.Type = ipc.TypeDgramNative
	}
	return &v, release, nil
}

// nodeErrno is an error as the negative errno Node's worker turns back
// into an exception (-98: EADDRINUSE).
func nodeErrno(err error) int {
	if n := errnoOf(err); n != 0 {
		return -n
	}
	return -int(syscall.EINVAL)
}

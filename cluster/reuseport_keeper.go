package cluster

import (
	"errors"
	"net"
	"os"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// bindKeeper binds the socket that keeps a reuseport address for herd's
// group: bound, never listening, so it gets no connections. It is bound
// without SO_REUSEPORT, which fails with EADDRINUSE while any other
// socket listens on the address, a SO_REUSEPORT group of another program
// (or another herd) of the same user included: herd never joins a group
// it did not create. The first try also goes without SO_REUSEADDR, so
// that another herd's keeper (which has neither option once bound)
// cannot be bound beside this one; only if that fails (connections of an
// earlier run in TIME_WAIT, say) is it tried again with SO_REUSEADDR,
// which still fails against a listening socket or another keeper. Once
// bound it drops SO_REUSEADDR and takes SO_REUSEPORT, so that the
// workers' sockets of the group can bind beside it.
//
// What remains open: a program of the same user that binds the address
// with SO_REUSEPORT after herd does joins herd's group (it asked to
// share; the kernel allows it).
func bindKeeper(network, address string) (int, net.Addr, error) {
	ta, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return -1, nil, err
	}
	fd, err := keeperBind(network, ta, false)
	if errors.Is(err, unix.EADDRINUSE) {
		fd, err = keeperBind(network, ta, true)
	}
	if err != nil {
		return -1, nil, &net.OpError{Op: "listen", Net: network, Addr: ta, Err: err}
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 0)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, reusePortOpt, 1)
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, nil, os.NewSyscallError("getsockname", err)
	}
	return fd, tcpAddr(got), nil
}

// keeperBind makes a TCP socket for ta and binds it, with SO_REUSEADDR
// if reuseAddr, never with SO_REUSEPORT.
func keeperBind(network string, ta *net.TCPAddr, reuseAddr bool) (int, error) {
	family, sa := sockaddr(network, ta)
	fd, err := sysport.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if reuseAddr {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	return fd, nil
}

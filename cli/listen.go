package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
)

// listenAddr is one --listen: an address and its LISTEN_FDNAMES name.
type listenAddr struct {
	name string
	addr cluster.Addr
}

// parseListens parses every --listen; fdName is the default name.
func parseListens(specs []string, fdName string) ([]listenAddr, error) {
	out := make([]listenAddr, 0, len(specs))
	seen := map[string]bool{}
	for _, s := range specs {
		l, err := parseListen(s, fdName)
		if err != nil {
			return nil, err
		}
		if seen[l.addr.String()] {
			return nil, usagef("--listen %s is given twice", s)
		}
		seen[l.addr.String()] = true
		out = append(out, l)
	}
	return out, nil
}

// parseListen parses [NAME=]ADDR, where ADDR is HOST:PORT, tcp://HOST:PORT
// (tcp4, tcp6), udp://HOST:PORT (udp4, udp6) or unix:PATH.
func parseListen(spec, fdName string) (listenAddr, error) {
	l := listenAddr{name: fdName}
	rest := spec
	if i := strings.IndexByte(spec, '='); i > 0 && !strings.ContainsAny(spec[:i], ":/") {
		l.name, rest = spec[:i], spec[i+1:]
	}
	if err := checkFDName(l.name); err != nil {
		return l, usagef("--listen %s: %w", spec, err)
	}
	network, address := "tcp", rest
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		network, address = scheme, after
	} else if after, ok := strings.CutPrefix(rest, "unix:"); ok {
		network, address = "unix", after
	}
	l.addr = cluster.Addr{Network: network, Address: address}
	if err := checkAddr(network, address); err != nil {
		return l, usagef("--listen %s: %w", spec, err)
	}
	return l, nil
}

func checkAddr(network, address string) error {
	switch network {
	case "unix":
		if address == "" {
			return errors.New("want unix:/path/to/socket")
		}
		return nil
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("unknown network %q (want tcp, tcp4, tcp6, udp, udp4, udp6 or unix)", network)
	}
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("want HOST:PORT: %w", err)
	}
	if _, err := net.LookupPort(network, port); err != nil {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// checkFDName checks a LISTEN_FDNAMES name as systemd does.
func checkFDName(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("a socket name must have 1 to 255 characters")
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e || r == ':' {
			return fmt.Errorf("socket name %q: only printable ASCII without ':' or spaces", name)
		}
	}
	return nil
}

// removeStaleUnix removes the socket file of a unix --listen that nobody
// serves any more (a herd that was killed), so that it can be bound again.
func removeStaleUnix(listens []listenAddr) {
	for _, l := range listens {
		if l.addr.Network != "unix" {
			continue
		}
		fi, err := os.Lstat(l.addr.Address)
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			continue
		}
		c, err := net.DialTimeout("unix", l.addr.Address, time.Second)
		if err == nil {
			c.Close()
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			os.Remove(l.addr.Address)
		}
	}
}

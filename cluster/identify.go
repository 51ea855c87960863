package cluster

// Identifying a connection before it is routed: its PROXY protocol header
// (read and stripped) and, under Sticky, a request header (peeked, left
// for the worker). It runs off the accept goroutine, a bounded number of
// connections at a time, each bounded in bytes and time.

import (
	"bytes"
	"sync"
	"time"
	"unsafe"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// identifyMaxBytes bounds what the primary reads of a connection to
// identify it: a header past it is not looked for.
const identifyMaxBytes = 8 << 10

// maxIdentifying bounds the connections one dispatcher identifies at
// once. Past it, a connection is routed by its address at once (with
// ProxyProtocol, whose header must be stripped, it is closed instead).
const maxIdentifying = 1024

// identifier is a dispatcher's identification settings.
type identifier struct {
	header  []byte // the sticky header's name, lower case; nil: none
	proxy   bool   // a PROXY header comes first, and is stripped
	timeout time.Duration
	running chan struct{} // one token per connection being identified
	wg      sync.WaitGroup
	buf     []byte // the accept goroutine's, for a first look
}

// newIdentifier returns nil when connections need no identification.
func newIdentifier(cfg *Config) *identifier {
	header := cfg.StickyHeader
	if cfg.Policy != Sticky {
		header = ""
	}
	if header == "" && !cfg.ProxyProtocol {
		return nil
	}
	var name []byte
	if header != "" {
		name = bytes.ToLower([]byte(header))
	}
	return &identifier{header: name, proxy: cfg.ProxyProtocol, timeout: cfg.IdentifyTimeout,
		running: make(chan struct{}, maxIdentifying), buf: make([]byte, identifyMaxBytes)}
}

// identify identifies fd, whose address hashes to key, and routes it. It
// never blocks the accept loop: it looks at what already arrived (the
// usual case: a client writes its request as it connects), and waits for
// the rest on another goroutine.
func (d *dispatcher) identify(fd int, key uint64) {
	st := &identState{proxy: d.ident.proxy, header: d.ident.header, key: key}
	if done, _ := peekStep(fd, d.ident.buf, st.step); done {
		d.identified(fd, st)
		return
	}
	select {
	case d.ident.running <- struct{}{}:
		d.ident.wg.Add(1)
		go d.identifyConn(fd, st)
	default:
		st.header = nil // too many waiting: by address, or closed without a PROXY header
		d.identified(fd, st)
	}
}

func (d *dispatcher) identifyConn(fd int, st *identState) {
	defer d.ident.wg.Done()
	defer func() { <-d.ident.running }()
	peekConn(fd, time.Now().Add(d.ident.timeout), st.step)
	d.identified(fd, st)
}

// identified routes fd by what st found; one whose PROXY header did not
// come (in time, or valid) is closed.
func (d *dispatcher) identified(fd int, st *identState) {
	if st.proxy {
		unix.Close(fd)
		return
	}
	d.routeKey(fd, st.key)
}

// routeKey routes fd, under Sticky by key.
func (d *dispatcher) routeKey(fd int, key uint64) {
	if d.keys != nil {
		d.keys.remember(fd, key)
	}
	d.route(fd, nil)
}

// reroute routes fd, a connection a worker gave back, to a worker other
// than skip; under Sticky by its peer's address (what was identified at
// accept is gone with the primary's copy).
func (d *dispatcher) reroute(fd int, skip router) {
	if d.keys != nil {
		var key uint64
		if sa, err := unix.Getpeername(fd); err == nil {
			key = sockaddrKey(sa)
		}
		d.keys.remember(fd, key)
	}
	d.route(fd, skip)
}

// sockaddrKey is addrKey for a decoded address.
func sockaddrKey(sa unix.Sockaddr) uint64 {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return identityKey(a.Addr[:])
	case *unix.SockaddrInet6:
		if bytes.HasPrefix(a.Addr[:], v4InV6Prefix) {
			return identityKey(a.Addr[12:])
		}
		return identityKey(a.Addr[:])
	}
	return 0
}

// identState is one connection's identification.
type identState struct {
	proxy  bool   // the PROXY header is still to be read
	header []byte // the sticky header's name, or nil
	key    uint64
}

// step looks at the bytes waiting on the connection: it returns how many
// of them to consume (a PROXY header) and whether it is done.
func (s *identState) step(b []byte) (consume int, done bool) {
	if s.proxy {
		n, ip, err := parseProxy(b)
		if err != nil || n == 0 {
			return 0, err != nil
		}
		s.proxy = false
		if ip != nil {
			s.key = identityKey(ip)
		}
		return n, s.header == nil
	}
	if s.header == nil {
		return 0, true
	}
	v, found, end := findHeader(b, s.header)
	if found && len(v) > 0 {
		s.key = identityKey(v)
	}
	return 0, found || end
}

// accept4Key is accept4 that also returns the identity key of the peer's
// IP address (0 for a Unix socket's peer).
func accept4Key(lfd int) (int, uint64, error) {
	var rsa unix.RawSockaddrAny
	fd, err := sysport.AcceptAddr(lfd, &rsa)
	if err != nil {
		return -1, 0, err
	}
	return fd, addrKey(&rsa), nil
}

// addrKey hashes an IP address as ipBytes has it: 4 bytes for IPv4.
func addrKey(rsa *unix.RawSockaddrAny) uint64 {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return identityKey(a.Addr[:])
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		if bytes.HasPrefix(a.Addr[:], v4InV6Prefix) {
			return identityKey(a.Addr[12:])
		}
		return identityKey(a.Addr[:])
	}
	return 0
}

var v4InV6Prefix = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}

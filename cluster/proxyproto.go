package cluster

// The PROXY protocol (HAProxy's, v1 and v2), which load balancers put in
// front of a connection to say whom it is from. The primary reads and
// strips it (Config.ProxyProtocol): the worker gets the stream that
// follows, as the client sent it.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
)

// errProxy is a connection that does not start with a valid PROXY header.
var errProxy = errors.New("cluster: no valid PROXY protocol header")

var (
	proxyV1Prefix = []byte("PROXY ")
	proxyV2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// proxyV1Max is the longest v1 header, CRLF included (the spec's bound).
const proxyV1Max = 107

// parseProxy reads a PROXY header at the start of b. It returns the
// header's length and the source address (nil for LOCAL, UNKNOWN and
// non-IP families); a length of 0 with no error means b is a valid start
// and more bytes are needed.
func parseProxy(b []byte) (int, []byte, error) {
	switch {
	case startsWith(b, proxyV2Sig):
		return parseProxyV2(b)
	case startsWith(b, proxyV1Prefix):
		return parseProxyV1(b)
	}
	return 0, nil, errProxy
}

// startsWith reports whether b starts with p, or is a start of p.
func startsWith(b, p []byte) bool {
	n := min(len(b), len(p))
	return bytes.Equal(b[:n], p[:n])
}

// parseProxyV1 reads "PROXY TCP4 SRC DST SPORT DPORT\r\n" (or TCP6, or
// UNKNOWN with anything up to the CRLF).
func parseProxyV1(b []byte) (int, []byte, error) {
	end := bytes.Index(b[:min(len(b), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= proxyV1Max {
			return 0, nil, errProxy
		}
		return 0, nil, nil
	}
	f := bytes.Fields(b[:end])
	if len(f) >= 2 && string(f[1]) == "UNKNOWN" {
		return end + 2, nil, nil
	}
	if len(f) != 6 || (string(f[1]) != "TCP4" && string(f[1]) != "TCP6") {
		return 0, nil, errProxy
	}
	ip := net.ParseIP(string(f[2]))
	if ip == nil {
		return 0, nil, errProxy
	}
	return end + 2, ipBytes(ip), nil
}

// parseProxyV2 reads the binary header: signature, version and command,
// family, length, addresses.
func parseProxyV2(b []byte) (int, []byte, error) {
	if len(b) < 16 {
		return 0, nil, nil
	}
	if b[12]>>4 != 2 || b[12]&0xf > 1 {
		return 0, nil, errProxy
	}
	total := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if total > identifyMaxBytes {
		return 0, nil, errProxy
	}
	if len(b) < total {
		return 0, nil, nil
	}
	if b[12]&0xf == 0 { // LOCAL: the balancer's own connection
		return total, nil, nil
	}
	switch fam := b[13] >> 4; {
	case fam == 1 && total >= 16+12:
		return total, append([]byte(nil), b[16:20]...), nil
	case fam == 2 && total >= 16+36:
		return total, ipBytes(net.IP(b[16:32])), nil
	case fam == 1 || fam == 2:
		return 0, nil, errProxy
	}
	return total, nil, nil
}

// ipBytes is ip as 4 bytes for IPv4 (mapped or not), else 16: the form
// the accepted address is hashed in.
func ipBytes(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return append([]byte(nil), v4...)
	}
	return append([]byte(nil), ip.To16()...)
}

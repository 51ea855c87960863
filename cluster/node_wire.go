package cluster

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
)

// The acts of Node's cluster protocol (cmd "NODE_CLUSTER") that herd's
// primary handles or sends. docs: node-protocol.md §6.
const (
	nodeActOnline     = "online"                // worker → primary: cluster worker up
	nodeActQuery      = "queryServer"           // worker → primary: a server wants an address
	nodeActListening  = "listening"             // worker → primary: a server listens (informational)
	nodeActClose      = "close"                 // worker → primary: a server closed its key
	nodeActLeaving    = "exitedAfterDisconnect" // worker → primary: it disconnects or kills itself; ack it
	nodeActNewconn    = "newconn"               // primary → worker: a round-robin connection (with handle)
	nodeActDisconnect = "disconnect"            // primary → worker: close your servers and exit
)

// nodeIn is a message a Node worker sends. Node leaves out the fields
// whose value is undefined; the raw ones keep null apart from missing,
// which the handle key tells apart.
type nodeIn struct {
	Act         string          `json:"act"`
	Seq         *int64          `json:"seq"`
	Ack         *int64          `json:"ack"`
	Accepted    bool            `json:"accepted"`
	Key         string          `json:"key"`
	Index       json.RawMessage `json:"index"`
	Data        json.RawMessage `json:"data"`
	Address     json.RawMessage `json:"address"`
	Port        json.RawMessage `json:"port"`
	AddressType json.RawMessage `json:"addressType"`
	FD          json.RawMessage `json:"fd"`
	Flags       int             `json:"flags"`
	ReadableAll bool            `json:"readableAll"` // a Unix socket's file readable by everyone
	WritableAll bool            `json:"writableAll"` // and writable
}

// nodeQueryReply answers a queryServer. Errno is null for round-robin, 0
// for a shared handle and a negative errno (-98 for EADDRINUSE) on error,
// as Node's primary sends them; Data is the key's first data (TLS ticket
// keys), echoed to every worker.
type nodeQueryReply struct {
	Cmd      string          `json:"cmd"`
	Errno    any             `json:"errno"`
	Key      string          `json:"key"`
	Ack      *int64          `json:"ack,omitempty"`
	Data     json.RawMessage `json:"data"`
	Sockname *nodeSockname   `json:"sockname,omitempty"`
	Seq      int64           `json:"seq"`
}

// nodeSockname is a round-robin server's address, for server.address().
type nodeSockname struct {
	Address string `json:"address"`
	Family  string `json:"family"`
	Port    int    `json:"port"`
}

// nodeCtl is a primary's act (disconnect) or a bare ack.
type nodeCtl struct {
	Cmd string `json:"cmd"`
	Act string `json:"act,omitempty"`
	Ack *int64 `json:"ack,omitempty"`
	Seq int64  `json:"seq"`
}

// handleKey is Node's key for a queryServer:
// "${address}:${port}:${addressType}:${fd}:${index}", JavaScript's
// template rendering of each field ("null", "undefined", "udp4", 3000).
// Workers asking with equal keys share one server.
func (q *nodeIn) handleKey() string {
	return jsText(q.Address) + ":" + jsText(q.Port) + ":" + jsText(q.AddressType) + ":" + jsText(q.FD) + ":" + jsText(q.Index)
}

// jsText renders a JSON value as a JavaScript template literal would: a
// missing field is "undefined", a string is its text, anything else (a
// number, null, a boolean) is as Node wrote it.
func jsText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "undefined"
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// nodeSocknameOf describes a TCP address as Node's getsockname does; nil
// for other addresses (Unix sockets get none).
func nodeSocknameOf(a net.Addr) *nodeSockname {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	s := &nodeSockname{Address: ta.IP.String(), Family: "IPv6", Port: ta.Port}
	if ta.IP.To4() != nil {
		s.Family = "IPv4"
	}
	if ta.IP == nil {
		s.Address = "::"
	}
	return s
}

// nodeNewconnPrefix is the start of every newconn line for a key; the
// seq and the closing brace follow.
func nodeNewconnPrefix(key string) []byte {
	k, _ := json.Marshal(key)
	return append(append([]byte(`{"cmd":"`+cmdNode+`","act":"`+nodeActNewconn+`","key":`), k...), `,"seq":`...)
}

// appendNewconn appends the newconn message for a prefix and seq to b.
func appendNewconn(b, prefix []byte, seq int64) []byte {
	b = append(b, prefix...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

// nodeAnswerPrefix starts a worker's answer to a newconn, as Node's
// JSON.stringify writes it.
var nodeAnswerPrefix = []byte(`{"cmd":"` + cmdNode + `","ack":`)

// parseNodeAnswer reads a worker's answer to a newconn,
// {"cmd":"NODE_CLUSTER","ack":N,"accepted":B,"seq":M}, without
// reflection when it has exactly the shape Node writes; ok is false
// otherwise (the caller decodes it in full).
func parseNodeAnswer(b []byte) (ack int64, accepted, ok bool) {
	rest, found := bytes.CutPrefix(b, nodeAnswerPrefix)
	if !found {
		return 0, false, false
	}
	ack, rest, found = cutInt(rest)
	if !found {
		return 0, false, false
	}
	switch {
	case bytes.HasPrefix(rest, []byte(`,"accepted":true,"seq":`)):
		accepted, rest = true, rest[len(`,"accepted":true,"seq":`):]
	case bytes.HasPrefix(rest, []byte(`,"accepted":false,"seq":`)):
		rest = rest[len(`,"accepted":false,"seq":`):]
	default:
		return 0, false, false
	}
	if _, rest, found = cutInt(rest); !found || string(rest) != "}" {
		return 0, false, false
	}
	return ack, accepted, true
}

// cutInt reads a non-negative decimal integer at the start of b.
func cutInt(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 18 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

package ipc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Message is one message received from the peer.
type Message struct {
	// Data is the message as JSON, exactly as the peer encoded it (for a
	// message that came with a handle: the envelope's "msg").
	Data json.RawMessage
	// Handle is nil, or the handle that came with the message turned back
	// into a working object: a net.Listener for "net.Server" (and for a
	// listening "net.Native"), a net.Conn for "net.Socket" (and for a
	// connected "net.Native"), a net.PacketConn for "dgram.Socket" and
	// "dgram.Native". The receiver owns it and must close it. To tell the
	// kinds apart, switch on HandleType or on the concrete types
	// (*net.TCPListener, *net.UnixListener, *net.TCPConn, *net.UnixConn,
	// *net.UDPConn), not on the interfaces alone: a *net.UDPConn is a
	// net.Conn too, and a *net.UnixConn a net.PacketConn.
	Handle any
	// HandleType is the Node handle type the handle travelled as, or "".
	HandleType string
	// Cmd is the "cmd" of an internal message (one starting with "NODE_");
	// it is "" for user messages.
	Cmd string
}

// Decode unmarshals the message's JSON into v, as encoding/json does.
func (m *Message) Decode(v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("ipc: decode message: %w", err)
	}
	return nil
}

// CloseHandle closes the message's handle, if it has one. It is for
// receivers that got a handle they do not want.
func (m *Message) CloseHandle() error {
	if c, ok := m.Handle.(io.Closer); ok {
		m.Handle = nil
		return c.Close()
	}
	return nil
}

// IsInternal reports whether cmd marks an internal message: a string of
// more than five characters that starts with "NODE_", as Node decides.
func IsInternal(cmd string) bool {
	return len(cmd) > 5 && cmd[:5] == "NODE_"
}

var (
	fastCmdPrefix = []byte(`{"cmd":"`)
	cmdBytes      = []byte("cmd")
	escapeBytes   = []byte(`\u`)
)

// internalCmd returns the "cmd" of line when line is an internal message,
// and "" otherwise. line must be valid JSON. Most lines are decided without
// decoding: a user message rarely mentions "cmd" at all.
func internalCmd(line []byte) string {
	line = bytes.TrimLeft(line, " \t\r")
	if len(line) == 0 || line[0] != '{' {
		return ""
	}
	// The fast path reads the first key; JavaScript takes the last of
	// duplicate keys, so it is only sure when no other "cmd" (plain or
	// \u-escaped) follows.
	if bytes.HasPrefix(line, fastCmdPrefix) && bytes.Count(line, cmdBytes) == 1 && !bytes.Contains(line, escapeBytes) {
		rest := line[len(fastCmdPrefix):]
		if i := bytes.IndexByte(rest, '"'); i >= 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return cmdString(rest[:i])
		}
	}
	if !bytes.Contains(line, cmdBytes) && !bytes.Contains(line, escapeBytes) {
		return ""
	}
	return slowCmd(line)
}

// cmdString returns cmd as a string if it is internal, else "". The
// protocol's frequent cmds are returned as constants, without allocating.
func cmdString(cmd []byte) string {
	switch string(cmd) {
	case "NODE_CLUSTER":
		return "NODE_CLUSTER"
	case "NODE_HANDLE":
		return "NODE_HANDLE"
	case "NODE_HANDLE_ACK":
		return "NODE_HANDLE_ACK"
	case "NODE_HANDLE_NACK":
		return "NODE_HANDLE_NACK"
	}
	if len(cmd) > 5 && string(cmd[:5]) == "NODE_" {
		return string(cmd)
	}
	return ""
}

// slowCmd decodes the top-level "cmd" key exactly (case-sensitive, as in
// JavaScript), for lines the fast path could not decide.
func slowCmd(line []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(line, &top) != nil {
		return ""
	}
	var cmd string
	if raw, ok := top["cmd"]; !ok || json.Unmarshal(raw, &cmd) != nil {
		return ""
	}
	if IsInternal(cmd) {
		return cmd
	}
	return ""
}

package ipc

import (
	"errors"
	"fmt"
)

// ErrNoChannel is returned by Inherited when the process was not started
// with an IPC channel (NODE_CHANNEL_FD is unset or empty).
var ErrNoChannel = errors.New("ipc: process was not started with an IPC channel (NODE_CHANNEL_FD is not set)")

// ErrClosed is returned by calls on a channel that this side closed.
var ErrClosed = errors.New("ipc: channel closed")

// ErrDisconnected is returned once the peer closed its end cleanly, at a
// message boundary: Node's 'disconnect'. A peer that died mid-message gives
// a *ProtocolError of kind Truncated instead.
var ErrDisconnected = errors.New("ipc: channel disconnected by peer")

// ErrHandleRejected is returned by SendHandle when the peer answered
// NODE_HANDLE_NACK: it could not turn the file descriptor into a handle.
var ErrHandleRejected = errors.New("ipc: peer rejected the handle (NODE_HANDLE_NACK)")

// ErrQueueFull is returned by a send on a channel with Options.MaxQueue
// when the bytes waiting to be written would pass the limit: the peer does
// not read. The channel is closed with it (wrapped with the figures).
var ErrQueueFull = errors.New("ipc: send queue full (the peer does not read)")

// Kind classifies a ProtocolError.
type Kind int

// The kinds of bad input a channel detects. Each one closes the channel.
const (
	Malformed  Kind = iota + 1 // a line that is not valid JSON
	BlankLine                  // an empty line (Node crashes on these)
	TooLarge                   // a line longer than Options.MaxMessageSize
	StrayFD                    // a file descriptor with no NODE_HANDLE envelope
	MissingFD                  // a NODE_HANDLE envelope with no file descriptor
	BadHandle                  // a handle whose type is unknown or does not match its socket
	TooManyFDs                 // more file descriptors than envelopes could claim, or truncated ancillary data
	Truncated                  // the peer closed the socket in the middle of a message
)

var kindNames = map[Kind]string{
	Malformed:  "malformed JSON",
	BlankLine:  "blank line",
	TooLarge:   "message too large",
	StrayFD:    "file descriptor without a NODE_HANDLE envelope",
	MissingFD:  "NODE_HANDLE envelope without a file descriptor",
	BadHandle:  "bad handle",
	TooManyFDs: "too many file descriptors",
	Truncated:  "connection closed mid-message",
}

// String names the kind in a few words.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ProtocolError reports bad input from the peer. The channel is closed when
// one is returned.
type ProtocolError struct {
	Kind   Kind
	Detail string // what was seen, for the log (at most a short excerpt)
	Err    error  // the underlying error, if any
}

func (e *ProtocolError) Error() string {
	s := "ipc: protocol error: " + e.Kind.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(k Kind, detail string, err error) *ProtocolError {
	return &ProtocolError{Kind: k, Detail: detail, Err: err}
}

// excerpt returns a printable prefix of b for error messages.
func excerpt(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

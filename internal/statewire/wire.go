// Package statewire is herd's shared-state protocol, spoken between
// package state (a client: a worker) and the broker that cluster runs in
// the primary. docs/protocol.md describes it.
//
// A worker asks for a connection once, with an internal message on its
// channel (cmd "NODE_HERD_STATE", JSON); the primary answers with one end
// of a new socket pair as the message's handle. Everything else travels
// on that socket, in the binary frames of frame.go, so that state traffic
// neither waits behind nor slows the channel's other messages.
package statewire

import (
	"encoding/json"
	"fmt"
)

// Cmd marks the handshake messages. It starts with "NODE_", so both ipc
// and Node treat them as internal and never show them to user code.
const Cmd = "NODE_HERD_STATE"

// OpConnect is the handshake's only operation.
const OpConnect = "connect"

// Hello is a worker's request for a connection to the broker.
type Hello struct {
	Cmd string `json:"cmd"`
	Op  string `json:"op"`
	ID  int64  `json:"id"`
}

// Welcome answers a Hello: with the socket as its handle, or with Err
// (and Code, for a refusal the client tells apart).
type Welcome struct {
	Cmd  string `json:"cmd"`
	Ack  int64  `json:"ack"`
	Err  string `json:"err,omitempty"`
	Code string `json:"code,omitempty"`
}

// RefusedConnLimit is a Welcome's Code when the worker already holds as
// many connections to the broker as it may (cluster.StateConfig.MaxConns).
const RefusedConnLimit = "conn-limit"

// DecodeHello parses a handshake request.
func DecodeHello(data []byte) (Hello, error) {
	var h Hello
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("statewire: bad hello: %w", err)
	}
	return h, nil
}

// DecodeWelcome parses a handshake answer.
func DecodeWelcome(data []byte) (Welcome, error) {
	var w Welcome
	if err := json.Unmarshal(data, &w); err != nil {
		return w, fmt.Errorf("statewire: bad welcome: %w", err)
	}
	return w, nil
}

// The operations of a Request, as its frame's type byte.
const (
	OpGet   byte = 'g' // Key → Val, or ErrNotFound
	OpSet   byte = 's' // Key, Val, TTL (milliseconds, 0: none)
	OpDel   byte = 'd' // Key
	OpIncr  byte = 'i' // Key, N (the delta) → N (the new value)
	OpCAS   byte = 'c' // Key, Old (unless NoOld), Val (unless NoVal) → OK
	OpKeys  byte = 'k' // Key (a prefix) → Keys
	OpPub   byte = 'p' // Key (the channel), Val (the payload)
	OpSub   byte = 'S' // Sub (an id the client picks), Chans
	OpUnsub byte = 'u' // Sub
	OpWatch byte = 'w' // Sub, Key
)

// The frame types of the broker's side.
const (
	TypeReply   byte = 'r' // the answer to a request
	TypeMessage byte = 'm' // a published message, pushed to a subscription
	TypeChange  byte = 'e' // a change to a watched key, pushed to a watch
	// TypeBye is the broker's last frame on a connection it drops (a
	// client too slow to read its pushes): Code and Msg say why.
	TypeBye byte = 'x'
)

// The error codes of a reply (Response.Code; 0 is success).
const (
	CodeOK        byte = 0
	CodeNotFound  byte = 1 // no such key
	CodeNotInt    byte = 2 // Incr on a value that is not a decimal integer, or an overflow
	CodeFull      byte = 3 // a memory limit was reached
	CodeTooLarge  byte = 4 // a key, channel, value or answer over its limit
	CodeClosed    byte = 5 // the broker stopped
	CodeBad       byte = 6 // a request the broker does not understand
	CodeSubExists byte = 7 // the subscription id is in use
	CodeEvicted   byte = 8 // the broker dropped the connection (TypeBye)
)

// The events of a change (Response.Ev).
const (
	EvSet    byte = 's' // the key has a new value (Val)
	EvDel    byte = 'd' // the key was deleted
	EvExpire byte = 'x' // the key's TTL ran out
)

// The size limits, checked by both ends and by every backend of package
// state.
const (
	MaxName  = 64 << 10 // bytes in a key or a channel name
	MaxValue = 8 << 20  // bytes in a value or a published payload
	// MaxFrame bounds a frame; a longer one is a protocol error. Replies
	// listing keys are held below it by the broker.
	MaxFrame = 48 << 20
	// MaxRequest bounds a request frame, which the broker reads: a
	// compare-and-swap's two values, a key, and room for a subscription's
	// channel names; a longer one is a protocol error.
	MaxRequest = 2*MaxValue + MaxName + 1<<20
)

// Request is a client's request. Every request is answered by exactly
// one reply with its ID.
type Request struct {
	Op    byte
	ID    uint64
	Key   string
	Val   []byte
	Old   []byte
	NoOld bool // cas: the key must be absent
	NoVal bool // cas: delete the key
	TTL   uint64
	N     int64
	Sub   uint64
	Chans []string
}

// Response is a frame from the broker: a reply (Type TypeReply: ID,
// Code, and the result in OK, N, Val, Keys; Msg describes an error) or a
// push to subscription Sub (Seq counts its pushes from 1: a gap means the
// broker dropped pushes to a slow client), carrying a message (Ch, Val)
// or a change (Key, Ev, Val).
type Response struct {
	Type byte
	ID   uint64
	Code byte
	Msg  string
	OK   bool
	N    int64
	Val  []byte
	Keys []string
	Sub  uint64
	Seq  uint64
	Ch   string
	Key  string
	Ev   byte
}

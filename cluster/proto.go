package cluster

import (
	"encoding/json"
	"strconv"
	"time"
)

// cmdHerd marks herd's own messages. It starts with "NODE_", so Node
// treats it as internal too and user code never sees it.
const cmdHerd = "NODE_HERD"

// The environment a worker is started with.
const (
	EnvWorkerID    = "HERD_WORKER_ID"     // the worker's id, from 1
	EnvKillTimeout = "HERD_KILL_TIMEOUT"  // how long the worker may drain, as a Go duration
	EnvHeartbeat   = "HERD_HEARTBEAT"     // how often to send heartbeats, as a Go duration; unset: never
	EnvIdleGrace   = "HERD_IDLE_GRACE_MS" // how long a draining worker keeps idle keep-alive connections, in milliseconds
)

// The acts of herd's protocol.
const (
	actOnline     = "online"     // worker → primary: the worker library is up
	actListen     = "listen"     // worker → primary: a socket, please (reply: same act, ack)
	actReady      = "ready"      // worker → primary: ready to serve
	actLeave      = "leave"      // worker → primary: a fatal error, replace me and let me drain
	actClosed     = "closed"     // worker → primary: N connections closed (least-connections)
	actRequeue    = "requeue"    // worker → primary: a connection I cannot take (with handle)
	actHeartbeat  = "heartbeat"  // worker → primary: still alive (every EnvHeartbeat)
	actConn       = "conn"       // primary → worker: a connection for key (with handle)
	actDisconnect = "disconnect" // primary → worker: stop accepting, drain, exit
)

// msg is every herd message; each act uses some of the fields.
type msg struct {
	Cmd     string `json:"cmd"`
	Act     string `json:"act,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Ack     int64  `json:"ack,omitempty"`
	Network string `json:"network,omitempty"`
	Address string `json:"address,omitempty"`
	Key     string `json:"key,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Error   string `json:"error,omitempty"`
	Errno   int    `json:"errno,omitempty"`
	N       int    `json:"n,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func newMsg(act string) *msg { return &msg{Cmd: cmdHerd, Act: act} }

func decodeMsg(data json.RawMessage) (*msg, error) {
	var m msg
	err := json.Unmarshal(data, &m)
	return &m, err
}

// The modes of a listen reply.
const (
	modeRR        = "rr"        // no handle: connections come as conn messages
	modeLeastConn = "leastconn" // as rr, and the worker reports closed connections
	modeShared    = "shared"    // the handle is the shared socket
	modeReusePort = "reuseport" // the handle is the worker's own socket
)

// killTimeoutFromEnv reads EnvKillTimeout, or returns def.
func killTimeoutFromEnv(v string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	return def
}

// idleGraceFromEnv reads EnvIdleGrace, or returns def.
func idleGraceFromEnv(v string, def time.Duration) time.Duration {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return def
}

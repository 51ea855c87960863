// Package sdnotify receives readiness notifications the way systemd does:
// a Unix datagram socket, named to children in NOTIFY_SOCKET, to which
// they send "READY=1" and other KEY=VALUE lines. The kernel stamps each
// datagram with its sender's pid (SO_PASSCRED), so the receiver knows who
// spoke without trusting the message.
//
// That stamp is Linux's: elsewhere (macOS, FreeBSD) Listen makes no
// socket, Path is "" (herd then sets no NOTIFY_SOCKET), and Receive only
// waits for Close; workers there are ready by herd's protocol or by
// running a second.
package sdnotify

import (
	"net"
	"strings"
)

// EnvSocket is the variable that names the socket to a child.
const EnvSocket = "NOTIFY_SOCKET"

// Message is one notification.
type Message struct {
	Pid    int               // the sender, as the kernel tells it
	Fields map[string]string // READY=1 is Fields["READY"] == "1"
}

// Ready reports whether the message says READY=1.
func (m Message) Ready() bool { return m.Fields["READY"] == "1" }

// Listener is a notification socket.
type Listener struct {
	conn *net.UnixConn // nil where there is no socket (not Linux)
	path string
	done chan struct{} // closed by Close where there is no socket
}

// Path is the socket's file name, the value for NOTIFY_SOCKET; "" where
// there is no socket (not Linux).
func (l *Listener) Path() string { return l.path }

func parseFields(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

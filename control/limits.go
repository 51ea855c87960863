package control

import (
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Bounds on what control clients can make herd hold, whatever they send.
const (
	// MaxConns bounds the connections served at once. Past it, a new one
	// is answered busy and closed at once; Call retries it.
	MaxConns = 64
	// MaxRequest bounds a request line. A longer one is answered with an
	// error and closed, after herd has buffered at most this much of it.
	MaxRequest = 64 << 10
	// RequestTimeout bounds how long a client may take to send its whole
	// request. It does not bound the answer: reload and stop are answered
	// once done.
	RequestTimeout = 10 * time.Second
)

// refusalLogEvery is how often, at most, refused connections are logged.
const refusalLogEvery = 10 * time.Second

// refusals counts connections refused for being one too many and logs
// them, at most once per refusalLogEvery. Only the accept loop uses it.
type refusals struct {
	log    *slog.Logger
	n      int       // refused since the last line
	logged time.Time // when the last line was
}

// refuse answers c busy, closes it, and counts it.
func (r *refusals) refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)) // a new socket's buffer is empty: no wait
	writeResponse(c, &Response{Error: "control: busy: " + strconv.Itoa(MaxConns) + " connections open, try again", Busy: true})
	c.Close()
	r.n++
	if r.log == nil || time.Since(r.logged) < refusalLogEvery {
		return
	}
	r.log.Warn("control: connections refused, too many open", "refused", r.n, "max", MaxConns)
	r.n, r.logged = 0, time.Now()
}

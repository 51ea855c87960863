package cluster

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// failedStartGrace is how long a starting worker whose listen failed has
// to become ready anyway (by another listen: an app may try the next
// port) before it is killed as a failed start.
const failedStartGrace = startGrace

// listenFailed logs a listen error the primary returns to a worker (the
// worker, the address, the errno) and, for a worker still starting, makes
// it a failed start: unless it becomes ready within failedStartGrace, it
// is killed, and its end counts toward MaxRestarts as a crash whose cause
// names the address. A port another program holds thus ends in a give-up,
// not in an endless loop of workers that wait for a socket they never get.
func (p *Primary) listenFailed(m *member, network, address string, err error) {
	where := network + " " + clip(address, maxLoggedAddr)
	cause := listenCause(err)
	errno := "EINVAL"
	if n := errnoOf(err); n != 0 {
		errno = unix.ErrnoName(syscall.Errno(n))
	}
	if m.listenErrs++; m.listenErrs <= maxListenErrLogs {
		detail := "errno=" + errno
		if m.listenErrs == maxListenErrLogs {
			detail += "; its further listen errors are not logged"
		}
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Addr: where, Detail: detail,
			Err: fmt.Errorf("cluster: worker %d cannot listen on %s: %w", m.id, where, clipErr(cause))})
	}
	if m.state != StateStarting || m.startErr != nil {
		return
	}
	m.startErr = fmt.Errorf("worker %d could not listen on %s: %w", m.id, where, clipErr(cause))
	p.after(failedStartGrace, control{f: func() { p.failedStart(m) }, done: make(chan struct{})})
}

// A worker chooses the addresses it asks for and how often it fails: what
// the primary logs of its listen errors is bounded.
const (
	maxLoggedAddr    = 256 // bytes of an address in a log line
	maxListenErrLogs = 20  // listen errors logged per worker
)

// clip cuts s to at most n bytes, saying so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}

// clipErr is err with its message clipped to a log line's share.
func clipErr(err error) error {
	if msg := err.Error(); len(msg) > 2*maxLoggedAddr {
		return errors.New(clip(msg, 2*maxLoggedAddr))
	}
	return err
}

// listenCause is the part of a listen error that the address does not
// already say (bind: address already in use).
func listenCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// failedStart kills a worker that could not listen and is still not
// ready.
func (p *Primary) failedStart(m *member) {
	if m.state == StateStarting {
		m.startErr = stoppedStart{m.startErr}
		m.cmd.SignalGroup(syscall.SIGKILL)
	}
}

// stoppedStart is the start error of a worker the primary killed.
type stoppedStart struct{ error }

func (e stoppedStart) Error() string {
	return fmt.Sprintf("%s (not ready %s later: killed)", e.error, failedStartGrace)
}

func (e stoppedStart) Unwrap() error { return e.error }

// exitCause describes a worker's unexpected exit: why it could not start,
// if a listen failed before it was ever ready, else how it ended.
func exitCause(m *member, ev proc.Event) error {
	var stopped stoppedStart
	switch {
	case errors.As(m.startErr, &stopped):
		return m.startErr
	case m.startErr != nil:
		return fmt.Errorf("%w (then it %s)", m.startErr, describeExit(ev))
	}
	return fmt.Errorf("worker %d (pid %d) %s", m.id, m.cmd.Pid(), m.exitReason(ev))
}

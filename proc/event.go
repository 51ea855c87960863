package proc

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/herdhq/herd/ipc"
)

// EventKind says what happened to a child.
type EventKind int

// The events of a child, as Node's ChildProcess emits them.
const (
	// Error: the channel failed (bad input from the child, a write error).
	// A Disconnect follows.
	Error EventKind = iota + 1
	// Disconnect: the channel closed, because either side closed it or
	// because of an Error. The child may still be running.
	Disconnect
	// Exit: the child exited (Code) or was killed by a signal (Signal).
	Exit
)

func (k EventKind) String() string {
	switch k {
	case Error:
		return "error"
	case Disconnect:
		return "disconnect"
	case Exit:
		return "exit"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one thing that happened to a child.
type Event struct {
	Kind EventKind
	// Err is the channel's error (Error), or why it closed (Disconnect:
	// ipc.ErrDisconnected when the child closed it, ipc.ErrClosed when
	// this side did).
	Err error
	// Code is the exit code (Exit), or -1 when a signal ended the child.
	Code int
	// Signal is the signal that ended the child (Exit), or 0.
	Signal syscall.Signal
}

// Crashed reports whether an Exit event is a crash: a signal or a
// non-zero exit code.
func (e Event) Crashed() bool { return e.Kind == Exit && (e.Signal != 0 || e.Code != 0) }

// watch turns the channel's end and the process's end into events. A
// channel still open a moment after the child exited (a grandchild holds
// the child's end) is closed then.
func (c *Cmd) watch() {
	defer close(c.events)
	exited := c.exited
	chDone := c.ch.Done()
	var grace <-chan time.Time
	for exited != nil || chDone != nil {
		select {
		case <-chDone:
			chDone = nil
			c.channelEvents()
		case <-exited:
			exited = nil
			c.events <- c.exitEvent()
			grace = time.After(closeGrace)
		case <-grace:
			c.ch.Close()
		}
	}
}

func (c *Cmd) channelEvents() {
	err := c.ch.Err()
	if !errors.Is(err, ipc.ErrDisconnected) && !errors.Is(err, ipc.ErrClosed) {
		c.events <- Event{Kind: Error, Err: err}
	}
	c.events <- Event{Kind: Disconnect, Err: err}
}

func (c *Cmd) exitEvent() Event {
	ev := Event{Kind: Exit, Code: -1}
	st := c.ProcessState()
	if st == nil {
		return ev
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ev.Signal = ws.Signal()
		return ev
	}
	ev.Code = st.ExitCode()
	return ev
}

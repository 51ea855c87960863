package cluster

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EventType names what happened in the cluster.
type EventType string

// The events a primary reports through Config.OnEvent.
const (
	EventFork       EventType = "fork"       // a worker process was started
	EventOnline     EventType = "online"     // the worker spoke on its channel
	EventListening  EventType = "listening"  // the worker got a listening socket (Addr)
	EventReady      EventType = "ready"      // the worker is ready and gets traffic
	EventDisconnect EventType = "disconnect" // the worker's channel closed
	EventExit       EventType = "exit"       // the worker exited (Code, Signal)
	EventRestart    EventType = "restart"    // a crashed worker is being replaced (Delay)
	EventGiveUp     EventType = "giveup"     // too many restarts: the cluster stops (Err)
	EventReplace    EventType = "replace"    // an unhealthy worker is being replaced (Detail: reason=memory or reason=heartbeat)
	EventSuspect    EventType = "suspect"    // a worker missed heartbeats and gets no traffic, or (Detail "cleared…") answers again
	EventReload     EventType = "reload"     // a rolling reload started or ended (Detail)
	EventScale      EventType = "scale"      // the number of workers changed (Detail)
	EventStop       EventType = "stop"       // a graceful stop started
	EventError      EventType = "error"      // something failed but the cluster goes on (Err)
	EventNotice     EventType = "notice"     // something the user should know about their program (Detail)
)

// Event is one thing that happened in the cluster.
type Event struct {
	Type     EventType
	Time     time.Time
	WorkerID int // 0 for cluster-wide events
	Pid      int
	Addr     string         // EventListening: the address
	Code     int            // EventExit: the exit code, -1 when killed by a signal
	Signal   syscall.Signal // EventExit: the signal, or 0
	Expected bool           // EventExit: the primary asked the worker to stop
	Delay    time.Duration  // EventRestart: the backoff before the new fork
	Detail   string
	Err      error
}

// String is a one-line description for logs.
func (e Event) String() string {
	s := string(e.Type)
	if e.WorkerID != 0 {
		s += fmt.Sprintf(" worker=%d pid=%d", e.WorkerID, e.Pid)
	}
	switch e.Type {
	case EventExit:
		s += fmt.Sprintf(" code=%d", e.Code)
		if e.Signal != 0 {
			s += " signal=" + unix.SignalName(e.Signal)
		}
		s += fmt.Sprintf(" expected=%t", e.Expected)
	case EventListening:
		s += " addr=" + e.Addr
	case EventRestart:
		s += " delay=" + e.Delay.String()
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}

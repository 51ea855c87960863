package ipc

import (
	"sync"
	"sync/atomic"
	"time"
)

// The read role says who reads the socket. The read goroutine holds it
// by default and waits for data in Go's network poller. When it hands
// a message to a receiver waiting in Recv and the socket is then empty,
// the channel is in a conversation (a request and its answer, a
// ping-pong), and it lets the role go: the next Recv that finds nothing
// waiting takes it and reads for itself, waiting for the answer in
// ppoll(2) on its own thread for up to recvPollWait. The kernel then
// wakes the very thread that returns the message, as a blocking read(2)
// does, where the network poller wakes a thread that wakes the read
// goroutine, which wakes the receiver (on a machine with two or more Ps,
// through more threads: each a wake-up of an idle CPU, which on a
// virtual machine costs more than the kernel's work on the message).
//
// The role goes back to the read goroutine when no Recv takes it for
// roleIdle, when a Recv's wait ends with nothing read, when a handle is
// sent (its answer must be read even if no one calls Recv), and when
// the channel closes.
const (
	recvPollWait = time.Millisecond
	roleIdle     = time.Millisecond
)

// Who holds the read role.
const (
	roleLoop   = iota // the read goroutine
	roleFree          // no one: the next Recv takes it
	roleCaller        // a Recv reads for itself
)

// readRole hands the read role between the read goroutine and the
// receivers.
type readRole struct {
	mu       sync.Mutex
	holder   int
	back     chan struct{} // wakes the read goroutine once the role is its own
	idle     *time.Timer   // gives a free role back to the read goroutine
	idleSet  bool          // the idle timer is pending
	freed    time.Time     // when a receiver last freed the role
	talking  atomic.Bool   // the role is not the read goroutine's: Sends write at once
	disabled bool          // no raw socket access: the read goroutine keeps the role
}

func (rr *readRole) init(disabled bool) {
	rr.back = make(chan struct{}, 1)
	rr.disabled = disabled
}

// letGo frees the role held by the read goroutine, for the next Recv.
func (rr *readRole) letGo() {
	if rr.disabled {
		return
	}
	rr.mu.Lock()
	if rr.holder == roleLoop {
		rr.holder = roleFree
		rr.talking.Store(true)
		rr.armLocked()
	}
	rr.mu.Unlock()
}

// awaitLoop returns once the read goroutine holds the role; when done
// is closed, it takes a free role at once.
func (rr *readRole) awaitLoop(done <-chan struct{}) {
	for {
		rr.mu.Lock()
		if rr.holder == roleFree && isClosed(done) {
			rr.toLoopLocked()
		}
		mine := rr.holder == roleLoop
		rr.mu.Unlock()
		if mine {
			return
		}
		select {
		case <-rr.back:
		case <-done:
		}
	}
}

// take gives a free role to the calling receiver, reporting whether it
// got it.
func (rr *readRole) take() bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.holder != roleFree {
		return false
	}
	rr.holder = roleCaller
	return true
}

// put ends a receiver's turn: it frees the role, or gives it back to
// the read goroutine when toLoop (the receiver waited for nothing, or
// the read failed).
func (rr *readRole) put(toLoop bool) {
	rr.mu.Lock()
	if toLoop {
		rr.toLoopLocked()
	} else {
		rr.holder = roleFree
		rr.armLocked()
	}
	rr.mu.Unlock()
}

// reclaim gives a free role back to the read goroutine now.
func (rr *readRole) reclaim() {
	if !rr.talking.Load() {
		return
	}
	rr.mu.Lock()
	if rr.holder == roleFree {
		rr.toLoopLocked()
	}
	rr.mu.Unlock()
}

// expire is the idle timer's: it gives the role back to the read
// goroutine if it was free for roleIdle, else checks again when it
// will have been.
func (rr *readRole) expire() {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.idleSet = false
	if rr.holder == roleLoop {
		return
	}
	if left := roleIdle - time.Since(rr.freed); rr.holder == roleCaller || left > 0 {
		rr.idleSet = true
		rr.idle.Reset(max(left, roleIdle/4))
		return
	}
	rr.toLoopLocked()
}

// toLoopLocked makes the read goroutine the holder and wakes it.
func (rr *readRole) toLoopLocked() {
	rr.holder = roleLoop
	rr.talking.Store(false)
	notify(rr.back)
}

// armLocked notes when the role was freed, and makes sure that the idle
// timer will look at it. The timer is not moved each time: in a fast
// conversation, that would cost more than the messages.
func (rr *readRole) armLocked() {
	rr.freed = time.Now()
	if rr.idleSet {
		return
	}
	rr.idleSet = true
	if rr.idle == nil {
		rr.idle = time.AfterFunc(roleIdle, rr.expire)
	} else {
		rr.idle.Reset(roleIdle)
	}
}

// isClosed reports whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

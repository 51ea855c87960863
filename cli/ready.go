package cli

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herdhq/herd/internal/sdnotify"
)

// startGrace is how long a worker that says nothing must keep running to
// count as ready.
const startGrace = time.Second

// maxEarly bounds the READY=1 kept from senders herd does not know yet.
const maxEarly = 1024

// readiness decides when a worker is ready, besides herd's protocol
// (which the cluster handles): READY=1 on NOTIFY_SOCKET, or else having
// run for startGrace. A worker that sent anything else on NOTIFY_SOCKET,
// or spoke herd's protocol, is waited for; so are all workers once one of
// them sent READY=1 (the program is known to say it). --ready-timeout
// bounds the wait (the cluster kills a worker not ready in time).
type readiness struct {
	mark  func(id int)  // marks a worker ready; never called with mu held
	grace time.Duration // 0: no grace period (the cluster judges Node workers itself)

	mu     sync.Mutex
	byPid  map[int]int // live workers: pid → id
	timers map[int]*time.Timer
	early  map[int]bool // pids that said READY=1 before herd saw them forked
	aware  bool         // a worker said READY=1
	closed bool
}

func newReadiness(mark func(int), grace time.Duration) *readiness {
	return &readiness{mark: mark, grace: grace, byPid: map[int]int{}, timers: map[int]*time.Timer{}, early: map[int]bool{}}
}

// forked records a new worker and starts its grace period.
func (r *readiness) forked(id, pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.byPid[pid] = id
	if r.early[pid] {
		delete(r.early, pid)
		r.becomeAware()
		go r.mark(id)
		return
	}
	if !r.aware && r.grace > 0 {
		r.timers[id] = time.AfterFunc(r.grace, func() { r.graceOver(id) })
	}
}

func (r *readiness) graceOver(id int) {
	r.mu.Lock()
	_, waiting := r.timers[id]
	delete(r.timers, id)
	r.mu.Unlock()
	if waiting {
		r.mark(id)
	}
}

// spoke notes that worker id speaks herd's protocol: the cluster decides.
func (r *readiness) spoke(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancel(id)
}

// cancel stops worker id's grace period. r.mu is held.
func (r *readiness) cancel(id int) {
	if t := r.timers[id]; t != nil {
		t.Stop()
		delete(r.timers, id)
	}
}

// exited forgets a worker.
func (r *readiness) exited(id, pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancel(id)
	delete(r.byPid, pid)
}

// notified handles a NOTIFY_SOCKET message.
func (r *readiness) notified(m sdnotify.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	id := r.workerOf(m.Pid)
	if m.Ready() && id != 0 {
		r.becomeAware()
	}
	switch {
	case id == 0 && m.Ready() && len(r.early) < maxEarly:
		r.early[m.Pid] = true
	case id != 0:
		r.cancel(id)
		if m.Ready() {
			go r.mark(id)
		}
	}
}

// becomeAware notes that the program says READY=1: every worker is
// waited for, and the grace periods stop. r.mu is held.
func (r *readiness) becomeAware() {
	if r.aware {
		return
	}
	r.aware = true
	for other := range r.timers {
		r.cancel(other)
	}
}

// owns reports whether pid is one of these workers, or descends from one.
func (r *readiness) owns(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.workerOf(pid) != 0
}

// workerOf finds the worker that pid is, or descends from. r.mu is held.
func (r *readiness) workerOf(pid int) int {
	for hops := 0; hops < 16 && pid > 1; hops++ {
		if id, ok := r.byPid[pid]; ok {
			return id
		}
		pid = parentOf(pid)
	}
	return 0
}

// parentOf reads a process's parent pid from /proc; 0 when gone.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command may hold spaces and parentheses
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// close stops every timer.
func (r *readiness) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for id := range r.timers {
		r.cancel(id)
	}
}

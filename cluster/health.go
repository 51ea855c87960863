package cluster

// Health checks: heartbeats (Config.HeartbeatTimeout) and the memory
// limit (Config.MaxMemory). A goroutine ticks; the decisions are the
// loop's.

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/procstat"
)

const (
	// memoryEvery is how often workers' memory is checked, and
	// memoryStrikes how many checks in a row above Config.MaxMemory get a
	// worker replaced: a moment's peak is not enough.
	memoryEvery   = time.Second
	memoryStrikes = 3
	// hungKillGrace is how long a hung worker has, after SIGABRT, to
	// print its stacks and exit before it is sent SIGKILL.
	hungKillGrace = 5 * time.Second
)

// The Detail of EventReplace.
const (
	replaceMemory    = "reason=memory"
	replaceHeartbeat = "reason=heartbeat"
)

// memberHealth is the loop's view of a worker's health.
type memberHealth struct {
	beating  bool      // it sent a heartbeat: its silence means something
	lastBeat time.Time // its last message of herd's protocol
	suspect  bool      // missed heartbeats: not routed to
	strikes  int       // memory checks in a row above the limit
}

// heartbeatEvery is how often workers send heartbeats for a timeout:
// once a second, or four times per timeout if that is shorter.
func heartbeatEvery(timeout time.Duration) time.Duration {
	return max(min(time.Second, timeout/4), 10*time.Millisecond)
}

// suspectAfter is the silence after which a worker gets no more traffic:
// three missed heartbeats, or half the timeout if that is shorter.
func suspectAfter(timeout time.Duration) time.Duration {
	return min(3*heartbeatEvery(timeout), timeout/2)
}

// healthEnv adds EnvHeartbeat to a worker's environment when heartbeats
// are on.
func (p *Primary) healthEnv(env []string) []string {
	if p.cfg.HeartbeatTimeout <= 0 {
		return env
	}
	return append(env, EnvHeartbeat+"="+heartbeatEvery(p.cfg.HeartbeatTimeout).String())
}

// startMonitor starts the health checks, if any is on; the returned
// function stops them and waits. Run calls it.
func (p *Primary) startMonitor() (stop func()) {
	if p.cfg.HeartbeatTimeout <= 0 && p.cfg.MaxMemory <= 0 {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		p.monitor(quit)
	}()
	return func() {
		close(quit)
		<-done
	}
}

// monitor ticks the checks until quit is closed.
func (p *Primary) monitor(quit <-chan struct{}) {
	var beats, mem <-chan time.Time
	if p.cfg.HeartbeatTimeout > 0 {
		t := time.NewTicker(heartbeatEvery(p.cfg.HeartbeatTimeout))
		defer t.Stop()
		beats = t.C
	}
	if p.cfg.MaxMemory > 0 {
		t := time.NewTicker(memoryEvery)
		defer t.Stop()
		mem = t.C
	}
	for {
		select {
		case <-quit:
			return
		case <-beats:
			p.postOr(quit, p.checkHeartbeats)
		case <-mem:
			p.sampleMemory(quit)
		}
	}
}

// postOr runs f on the loop, unless quit closes first. It does not wait.
func (p *Primary) postOr(quit <-chan struct{}, f func()) bool {
	select {
	case p.inbox <- control{f: f, done: make(chan struct{})}:
		return true
	case <-quit:
		return false
	}
}

// afterFunc runs f on the loop once d has passed.
func (p *Primary) afterFunc(d time.Duration, f func()) *time.Timer {
	return p.after(d, control{f: f, done: make(chan struct{})})
}

// beat records a message of herd's protocol from m: a worker that was
// suspected is routed to again.
func (p *Primary) beat(m *member, heartbeat bool) {
	h := &m.health
	h.lastBeat = time.Now()
	h.beating = h.beating || heartbeat
	if h.suspect {
		h.suspect = false
		p.refreshRouting()
		p.emit(Event{Type: EventSuspect, WorkerID: m.id, Pid: m.cmd.Pid(), Detail: "cleared: it answers again"})
	}
}

// checkHeartbeats takes silent workers out of routing, and replaces the
// ones silent for the whole timeout.
func (p *Primary) checkHeartbeats() {
	now, timeout := time.Now(), p.cfg.HeartbeatTimeout
	var suspects []Event
	for _, m := range p.members {
		h := &m.health
		if !h.beating || (m.state != StateReady && m.state != StateStarting) {
			continue
		}
		switch silent := now.Sub(h.lastBeat); {
		case silent >= timeout:
			p.hung(m, silent)
		case silent >= suspectAfter(timeout) && !h.suspect:
			h.suspect = true
			suspects = append(suspects, Event{Type: EventSuspect, WorkerID: m.id, Pid: m.cmd.Pid(),
				Detail: "no heartbeat for " + silent.Round(time.Millisecond).String() + ": no more traffic until it answers"})
		}
	}
	if len(suspects) > 0 {
		p.refreshRouting() // before the events: whoever acts on one sees the worker out of routing
	}
	for _, e := range suspects {
		p.emit(e)
	}
}

// hung stops routing to a worker that sent no heartbeat for the timeout,
// sends it SIGABRT (a Go program prints every goroutine's stack on its
// stderr and exits), SIGKILL after hungKillGrace, and replaces it.
func (p *Primary) hung(m *member, silent time.Duration) {
	p.emit(Event{Type: EventReplace, WorkerID: m.id, Pid: m.cmd.Pid(), Detail: replaceHeartbeat,
		Err: fmt.Errorf("cluster: worker %d sent no heartbeat for %s: SIGABRT, SIGKILL in %s if still running",
			m.id, silent.Round(time.Millisecond), hungKillGrace)})
	m.state = StateDraining
	m.expected = true
	stopTimer(m.readyTimer)
	p.refreshRouting()
	m.cmd.Signal(syscall.SIGABRT)
	m.killTimer = p.afterFunc(hungKillGrace, func() { p.killHung(m) })
	p.succeed(m, fmt.Errorf("worker %d (pid %d) hung", m.id, m.cmd.Pid()))
}

func (p *Primary) killHung(m *member) {
	if m.state == StateExited {
		return
	}
	p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(),
		Err: fmt.Errorf("cluster: hung worker %d still running %s after SIGABRT: killing it", m.id, hungKillGrace)})
	m.cmd.SignalGroup(syscall.SIGKILL)
}

// succeed starts m's successor in its slot at once (a restart of the
// slot: backoff and MaxRestarts apply), unless one is starting already.
func (p *Primary) succeed(m *member, cause error) {
	s := p.slots[m.slot]
	if s == nil || s.current != m || p.stopping || p.heirOf(m) != nil {
		return
	}
	s.current = nil
	p.crashed(m.slot, m.started, cause)
}

// memTarget is a worker whose memory is to be read.
type memTarget struct {
	m   *member
	pid int
	rss int64
}

// sampleMemory reads the ready workers' memory off the loop and has the
// loop check it.
func (p *Primary) sampleMemory(quit <-chan struct{}) {
	got := make(chan []memTarget, 1)
	if !p.postOr(quit, func() { got <- p.memTargets() }) {
		return
	}
	var ts []memTarget
	select {
	case ts = <-got:
	case <-quit:
		return
	}
	for i := range ts {
		s, err := procstat.Read(ts[i].pid)
		if err == nil {
			ts[i].rss = s.RSS
		}
	}
	p.postOr(quit, func() { p.checkMemory(ts) })
}

// memTargets lists the ready workers, on the loop.
func (p *Primary) memTargets() []memTarget {
	ts := make([]memTarget, 0, len(p.members))
	for _, m := range p.members {
		if m.state == StateReady {
			ts = append(ts, memTarget{m: m, pid: m.cmd.Pid()})
		}
	}
	return ts
}

// checkMemory counts the strikes of workers above the limit, and
// replaces those at memoryStrikes.
func (p *Primary) checkMemory(ts []memTarget) {
	for _, t := range ts {
		m := t.m
		if m.state != StateReady || p.members[m.id] != m {
			continue
		}
		if t.rss <= p.cfg.MaxMemory {
			m.health.strikes = 0
			continue
		}
		if m.health.strikes++; m.health.strikes >= memoryStrikes {
			p.bloated(m, t.rss)
		}
	}
}

// bloated replaces a worker above the memory limit as a Leave would: its
// successor is forked, and it drains.
func (p *Primary) bloated(m *member, rss int64) {
	p.emit(Event{Type: EventReplace, WorkerID: m.id, Pid: m.cmd.Pid(), Detail: replaceMemory,
		Err: fmt.Errorf("cluster: worker %d uses %s of memory, above the limit of %s for %d checks: replacing it",
			m.id, mib(rss), mib(p.cfg.MaxMemory), memoryStrikes)})
	p.succeed(m, fmt.Errorf("worker %d (pid %d) used too much memory", m.id, m.cmd.Pid()))
	p.drain(m)
}

// mib formats a size in MiB.
func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

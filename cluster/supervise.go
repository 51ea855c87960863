package cluster

import (
	"fmt"
	"syscall"
	"time"

	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// startSlot forks a worker for slot s. A failed fork counts as a crash.
func (p *Primary) startSlot(s int) {
	m, err := p.spawn(s, p.gen)
	if err != nil {
		p.emit(Event{Type: EventError, Err: err, Detail: fmt.Sprintf("slot=%d", s)})
		p.crashed(s, time.Now(), err)
		return
	}
	p.slots[s].current = m
	p.admit(m)
}

// admit registers a freshly forked worker.
func (p *Primary) admit(m *member) {
	p.members[m.id] = m
	p.relay.setPeers(p.members)
	p.emit(p.memberEvt(EventFork, m))
	if p.cfg.Readiness == ReadyOnStart {
		p.markReady(m)
		return
	}
	m.readyTimer = p.after(p.cfg.ReadyTimeout, readyTimeout{m})
}

func (p *Primary) memberEvent(m *member, ev proc.Event) {
	switch ev.Kind {
	case proc.Error:
		// Bad input on the channel: the worker is cut off and replaced.
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(), Err: ev.Err, Detail: "channel: killing the worker"})
		m.cmd.SignalGroup(syscall.SIGKILL)
	case proc.Disconnect:
		p.emit(p.memberEvt(EventDisconnect, m))
		if m.state == StateReady || m.state == StateStarting {
			m.keys = map[string]bool{}
			p.refreshRouting()
		}
	case proc.Exit:
		p.exited(m, ev)
	}
}

// exited handles a worker's exit: it is forgotten, its process group is
// cleaned up, and an unexpected exit is replaced.
func (p *Primary) exited(m *member, ev proc.Event) {
	e := p.memberEvt(EventExit, m)
	e.Code, e.Signal, e.Expected = ev.Code, ev.Signal, m.expected
	p.emit(e)
	wasStarting := m.state == StateStarting
	m.state = StateExited
	stopTimer(m.killTimer)
	stopTimer(m.readyTimer)
	m.cmd.SignalGroup(syscall.SIGKILL) // grandchildren left behind
	p.state.DisconnectOwner(m.id)      // even if a grandchild holds its socket
	delete(p.members, m.id)
	p.relay.setPeers(p.members)
	p.dropHolds(m)
	p.retire(m)
	p.refreshRouting()
	if p.reloadLost(m, wasStarting, m.exitReason(ev)) {
		return
	}
	s := p.slots[m.slot]
	if s == nil || s.current != m {
		return
	}
	s.current = nil
	if heir := p.heirOf(m); heir != nil {
		s.current, heir.replaces = heir, nil
		return
	}
	if !m.expected && !p.stopping {
		p.crashed(m.slot, m.started, exitCause(m, ev))
	}
	p.reloadStep()
}

// exitReason says how a worker ended, for errors: a worker killed for
// not being ready in time says so.
func (m *member) exitReason(ev proc.Event) string {
	if m.notReady {
		return "was not ready within the ready timeout"
	}
	return describeExit(ev)
}

func describeExit(ev proc.Event) string {
	if ev.Signal != 0 {
		return "was killed by " + unix.SignalName(ev.Signal)
	}
	return fmt.Sprintf("exited with code %d", ev.Code)
}

// crashed counts an unexpected end in the window and schedules the slot's
// restart after its backoff, or gives up.
func (p *Primary) crashed(s int, started time.Time, cause error) {
	now := time.Now()
	p.window = append(p.window, now)
	for len(p.window) > 0 && now.Sub(p.window[0]) > p.cfg.RestartWindow {
		p.window = p.window[1:]
	}
	if p.cfg.MaxRestarts >= 0 && len(p.window) > p.cfg.MaxRestarts {
		p.giveUp(cause)
		return
	}
	sl := p.slots[s]
	if sl == nil {
		return
	}
	if now.Sub(started) >= p.cfg.RestartWindow {
		sl.backoff = 0
	}
	delay := sl.backoff
	sl.backoff = min(max(2*sl.backoff, p.cfg.BackoffMin), p.cfg.BackoffMax)
	sl.restarts++
	p.emit(Event{Type: EventRestart, Delay: delay, Detail: fmt.Sprintf("slot=%d", s), Err: cause})
	if delay == 0 {
		p.startSlot(s)
		return
	}
	p.after(delay, restartDue{s})
}

func (p *Primary) restartDue(s int) {
	if sl := p.slots[s]; sl != nil && sl.current == nil && !p.stopping {
		p.startSlot(s)
	}
}

func (p *Primary) giveUp(cause error) {
	p.stopErr = fmt.Errorf("%w (%d in %s): last: %w", ErrGaveUp, len(p.window), p.cfg.RestartWindow, cause)
	p.emit(Event{Type: EventGiveUp, Err: p.stopErr})
	p.stop()
}

func (p *Primary) readyTimeout(m *member) {
	if m.state != StateStarting {
		return
	}
	p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(),
		Err: fmt.Errorf("cluster: worker %d not ready within %s", m.id, p.cfg.ReadyTimeout)})
	m.notReady = true
	m.cmd.SignalGroup(syscall.SIGKILL)
}

func (p *Primary) killDue(m *member) {
	if m.state != StateExited {
		p.emit(Event{Type: EventError, WorkerID: m.id, Pid: m.cmd.Pid(),
			Err: fmt.Errorf("cluster: worker %d still running after %s: killing it", m.id, p.cfg.KillTimeout)})
		m.cmd.SignalGroup(syscall.SIGKILL)
	}
}

// markReady lets a worker take traffic; during a reload, the worker it
// replaces starts draining.
func (p *Primary) markReady(m *member) {
	if m.state != StateStarting {
		return
	}
	m.state = StateReady
	m.startErr = nil // it started after all
	stopTimer(m.readyTimer)
	p.dropSlotHolds(p.slots[m.slot])
	p.refreshRouting() // before the event: a ready worker is routable
	p.emit(p.memberEvt(EventReady, m))
	if old := m.replaces; old != nil {
		m.replaces = nil
		p.drain(old)
		if sl := p.slots[m.slot]; sl != nil {
			sl.current = m
		} else {
			p.drain(m) // its slot was scaled away meanwhile
		}
	}
	if p.reload {
		p.reloadProgress()
		p.reloadStep()
	}
}

// drain asks a worker to stop: no more traffic, then a disconnect (herd
// workers) or SIGTERM (others), then SIGKILL after KillTimeout.
func (p *Primary) drain(m *member) {
	if m.state == StateDraining || m.state == StateExited {
		return
	}
	m.state = StateDraining
	m.expected = true
	stopTimer(m.readyTimer)
	p.refreshRouting()
	if m.speaker != nil {
		m.speaker.disconnect(m)
	} else {
		m.cmd.Signal(syscall.SIGTERM)
	}
	m.killTimer = p.after(p.cfg.KillTimeout, killDue{m})
}

// stop drains every worker; Run returns once all have exited.
func (p *Primary) stop() {
	if !p.stopping {
		p.stopping = true
		p.emit(Event{Type: EventStop})
	}
	for _, m := range p.members {
		p.drain(m)
	}
}

// forceStop kills the workers still running; Run then returns ErrForced,
// unless it already had a reason of its own (ErrGaveUp).
func (p *Primary) forceStop() {
	if len(p.members) > 0 && p.stopErr == nil {
		p.stopErr = ErrForced
	}
	for _, m := range p.members {
		m.cmd.SignalGroup(syscall.SIGKILL)
	}
}

func (p *Primary) scale(n int) {
	if n < 1 || p.stopping {
		return
	}
	p.emit(Event{Type: EventScale, Detail: fmt.Sprintf("from=%d to=%d", p.want, n)})
	old := p.want
	p.want = n // before the forks: a worker's share of the CPUs (procsEnv) counts the new number
	for s := old + 1; s <= n; s++ {
		p.addSlot(s)
	}
	for s := n + 1; s <= old; s++ {
		if sl := p.slots[s]; sl != nil && sl.current != nil {
			p.drain(sl.current)
		}
		p.dropSlotHolds(p.slots[s])
		delete(p.slots, s)
	}
}

// refreshRouting publishes, for each round-robin socket, the ready workers
// that listen on it.
func (p *Primary) refreshRouting() {
	for key, s := range p.sockets {
		if s.disp == nil {
			continue
		}
		var set []router
		for _, m := range p.members {
			if m.state == StateReady && m.keys[key] && !m.health.suspect {
				set = append(set, m)
			}
		}
		s.disp.update(set)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

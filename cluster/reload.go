package cluster

import (
	"fmt"
	"time"
)

// A rolling reload replaces every worker of an older generation, one at a
// time, and ends when every slot has a ready worker of the new one ("done
// generation=N"), or fails ("failed", with the reason in Err): when a new
// worker exits before it is ready, when its fork fails, or when no step
// made progress within reloadStepTimeout (ReadyTimeout + KillTimeout). A
// reload of W workers thus ends within W × (ReadyTimeout + KillTimeout).

// reloadDue is the deadline of a reload's step number seq.
type reloadDue struct{ seq int }

// startReload begins a rolling reload: every worker of an older
// generation is replaced, one at a time.
func (p *Primary) startReload() {
	if p.stopping {
		return
	}
	p.gen++
	p.reload = true
	p.emit(Event{Type: EventReload, Detail: fmt.Sprintf("started generation=%d", p.gen)})
	p.reloadProgress()
	p.reloadStep()
}

// reloadStepTimeout bounds one step of a reload: a new worker has
// ReadyTimeout to become ready, and KillTimeout more to be gone if not.
func (p *Primary) reloadStepTimeout() time.Duration { return p.cfg.ReadyTimeout + p.cfg.KillTimeout }

// reloadProgress restarts the step deadline.
func (p *Primary) reloadProgress() {
	p.reloadSeq++
	stopTimer(p.reloadTimer)
	p.reloadTimer = p.after(p.reloadStepTimeout(), reloadDue{p.reloadSeq})
}

// reloadDeadline fails a reload whose step made no progress in time.
func (p *Primary) reloadDeadline(seq int) {
	if !p.reload || seq != p.reloadSeq {
		return
	}
	p.abortReload(fmt.Errorf("cluster: reload made no progress within %s (ready timeout + kill timeout): %s",
		p.reloadStepTimeout(), p.reloadWaitingOn()))
}

// reloadStep forks the replacement of the next old worker, unless one is
// already starting; with none left it ends the reload once every slot's
// worker is ready.
func (p *Primary) reloadStep() {
	if !p.reload || p.stopping || p.reloadPending() != nil {
		return
	}
	old := p.oldest()
	if old == nil {
		if p.reloadWaitingOn() == "" {
			p.endReload()
		}
		return
	}
	m, err := p.spawn(old.slot, p.gen)
	if err != nil {
		p.abortReload(fmt.Errorf("cluster: reload: fork: %w", err))
		return
	}
	m.replaces = old
	p.reloadProgress() // before admit: a worker ready on start moves the reload on at once
	p.admit(m)
}

// reloadPending returns the new worker the reload waits for: a
// replacement, or a worker of the new generation not ready yet.
func (p *Primary) reloadPending() *member {
	for _, m := range p.members {
		if m.replaces != nil || (m.gen == p.gen && m.state == StateStarting) {
			return m
		}
	}
	return nil
}

// reloadWaitingOn says what keeps the reload from ending, or "".
func (p *Primary) reloadWaitingOn() string {
	if m := p.reloadPending(); m != nil {
		return fmt.Sprintf("worker %d (pid %d) is not ready", m.id, m.cmd.Pid())
	}
	for s, sl := range p.slots {
		if sl.current == nil {
			return fmt.Sprintf("slot %d has no worker (a fork is queued, or a crashed one waits out its backoff)", s)
		}
		if sl.current.state != StateReady {
			return fmt.Sprintf("worker %d (pid %d) is %s", sl.current.id, sl.current.cmd.Pid(), sl.current.state)
		}
	}
	return ""
}

func (p *Primary) endReload() {
	p.reload = false
	stopTimer(p.reloadTimer)
	p.emit(Event{Type: EventReload, Detail: fmt.Sprintf("done generation=%d", p.gen)})
}

// oldest returns the serving worker of the lowest slot that is of an
// older generation.
func (p *Primary) oldest() *member {
	var best *member
	for _, m := range p.members {
		if m.gen < p.gen && (m.state == StateReady || m.state == StateStarting) && p.slots[m.slot] != nil &&
			p.slots[m.slot].current == m && (best == nil || m.slot < best.slot) {
			best = m
		}
	}
	return best
}

// reloadLost handles the exit of a worker that was starting: if it was
// of the reload's generation, the reload fails. It reports whether m was
// a replacement (whose old worker keeps its slot).
func (p *Primary) reloadLost(m *member, wasStarting bool, how string) bool {
	if p.reload && m.gen == p.gen && wasStarting {
		p.abortReload(fmt.Errorf("cluster: new worker %d (pid %d) %s before it was ready", m.id, m.cmd.Pid(), how))
	}
	return m.replaces != nil
}

// abortReload ends a reload with err; the workers left serve as they are.
func (p *Primary) abortReload(err error) {
	p.reload = false
	stopTimer(p.reloadTimer)
	for _, m := range p.members {
		m.gen = p.gen
	}
	p.emit(Event{Type: EventReload, Detail: "failed: the workers left keep serving", Err: err})
}

// heirOf returns the worker starting to replace m, if any.
func (p *Primary) heirOf(m *member) *member {
	for _, h := range p.members {
		if h.replaces == m {
			return h
		}
	}
	return nil
}

package cluster

import "fmt"

// startReload begins a rolling reload: every worker of an older
// generation is replaced, one at a time.
func (p *Primary) startReload() {
	if p.stopping {
		return
	}
	p.gen++
	p.reload = true
	p.emit(Event{Type: EventReload, Detail: fmt.Sprintf("started generation=%d", p.gen)})
	p.reloadStep()
}

// reloadStep forks the replacement of the next old worker, unless one is
// already starting.
func (p *Primary) reloadStep() {
	if !p.reload || p.stopping {
		return
	}
	for _, m := range p.members {
		if m.replaces != nil {
			return
		}
	}
	old := p.oldest()
	if old == nil {
		p.reload = false
		p.emit(Event{Type: EventReload, Detail: fmt.Sprintf("done generation=%d", p.gen)})
		return
	}
	m, err := p.spawn(old.slot, p.gen)
	if err != nil {
		p.abortReload(err)
		return
	}
	m.replaces = old
	p.admit(m)
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

// replacementFailed handles the exit of a worker that was replacing
// another: the reload stops and the old workers keep serving.
func (p *Primary) replacementFailed(m *member) bool {
	if m.replaces == nil {
		return false
	}
	p.abortReload(fmt.Errorf("cluster: new worker %d (pid %d) exited before it was ready", m.id, m.cmd.Pid()))
	return true
}

func (p *Primary) abortReload(err error) {
	p.reload = false
	for _, m := range p.members {
		m.gen = p.gen
	}
	p.emit(Event{Type: EventReload, Detail: "failed: old workers keep serving", Err: err})
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

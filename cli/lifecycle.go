package cli

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/herdhq/herd/cluster"
)

// onEvent is the cluster's Config.OnEvent. It runs on the cluster's
// loop: it must be quick and must not call the Primary.
func (pr *program) onEvent(e cluster.Event) {
	pr.h.watch(pr.name, e)
	logEvent(pr.log, e)
	switch e.Type {
	case cluster.EventFork:
		pr.out.started(e.WorkerID, e.Pid)
		pr.ready.forked(e.WorkerID, e.Pid)
	case cluster.EventOnline:
		pr.ready.spoke(e.WorkerID)
	case cluster.EventExit:
		pr.ready.exited(e.WorkerID, e.Pid)
		pr.msgs.exited(e.WorkerID)
	case cluster.EventListening:
		if e.WorkerID == 0 {
			pr.mu.Lock()
			pr.bound = append(pr.bound, e.Addr)
			pr.mu.Unlock()
		}
	case cluster.EventReady:
		pr.workerReady(e.WorkerID)
	case cluster.EventReload:
		pr.reloadEvent(e)
	case cluster.EventStop:
		sdNotify(daemon.SdNotifyStopping)
	}
}

// workerReady counts the program up once its first workers are all
// ready.
func (pr *program) workerReady(id int) {
	pr.mu.Lock()
	if pr.up {
		pr.mu.Unlock()
		return
	}
	pr.readyIDs[id] = true
	pr.up = len(pr.readyIDs) >= pr.opts.Workers
	up := pr.up
	pr.mu.Unlock()
	if up {
		pr.h.programUp()
	}
}

// programUp tells systemd (Type=notify) that herd is ready, and calls
// onUp, once every program is up.
func (h *herd) programUp() {
	h.mu.Lock()
	h.up++
	up := h.up == len(h.progs)
	h.mu.Unlock()
	if !up {
		return
	}
	workers := 0
	for _, pr := range h.progs {
		workers += pr.opts.Workers
	}
	sdNotify(daemon.SdNotifyReady + "\nSTATUS=" + fmt.Sprintf("%d workers ready", workers))
	if h.onUp != nil {
		h.onUp(h)
	}
}

// reloadEvent tells systemd about reloads and answers the control
// clients waiting for one to end.
func (pr *program) reloadEvent(e cluster.Event) {
	ended := e.Err != nil || strings.HasPrefix(e.Detail, "done")
	if !ended {
		sdNotify(daemon.SdNotifyReloading)
		return
	}
	sdNotify(daemon.SdNotifyReady)
	var err error
	if e.Err != nil {
		err = fmt.Errorf("reload failed (the workers left keep serving): %w", e.Err)
	}
	pr.mu.Lock()
	waiting := pr.reloads
	pr.reloads = nil
	pr.mu.Unlock()
	for _, c := range waiting {
		c <- err
	}
}

// sdNotify tells systemd herd's state when herd runs as a Type=notify
// service (NOTIFY_SOCKET set); otherwise it does nothing.
func sdNotify(state string) {
	daemon.SdNotify(false, state)
}

// boundAddrs returns the addresses bound for --listen, of every program.
func (h *herd) boundAddrs() []string {
	var out []string
	for _, pr := range h.progs {
		out = append(out, pr.boundAddrs()...)
	}
	return out
}

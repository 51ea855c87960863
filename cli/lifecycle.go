package cli

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

// onEvent is the cluster's Config.OnEvent. It runs on the cluster's
// loop: it must be quick and must not call the Primary.
func (h *herd) onEvent(e cluster.Event) {
	h.watch(e)
	logEvent(h.log, e)
	switch e.Type {
	case cluster.EventFork:
		h.out.started(e.WorkerID, e.Pid)
		h.ready.forked(e.WorkerID, e.Pid)
	case cluster.EventOnline:
		h.ready.spoke(e.WorkerID)
	case cluster.EventExit:
		h.ready.exited(e.WorkerID, e.Pid)
		h.msgs.exited(e.WorkerID)
	case cluster.EventListening:
		if e.WorkerID == 0 {
			h.mu.Lock()
			h.bound = append(h.bound, e.Addr)
			h.mu.Unlock()
		}
	case cluster.EventReady:
		h.workerReady(e.WorkerID)
	case cluster.EventReload:
		h.reloadEvent(e)
	case cluster.EventStop:
		sdNotify(daemon.SdNotifyStopping)
	}
}

// onMessage is the cluster's Config.OnMessage: herd logs what workers
// send it, up to --log-messages a second each.
func (h *herd) onMessage(w cluster.WorkerInfo, m *ipc.Message) { h.msgs.message(w, m) }

// workerReady tells systemd (Type=notify) that herd is ready, and calls
// onUp, once the first workers are all ready.
func (h *herd) workerReady(id int) {
	h.mu.Lock()
	if h.up {
		h.mu.Unlock()
		return
	}
	h.readyIDs[id] = true
	h.up = len(h.readyIDs) >= h.opts.Workers
	up := h.up
	h.mu.Unlock()
	if !up {
		return
	}
	sdNotify(daemon.SdNotifyReady + "\nSTATUS=" + fmt.Sprintf("%d workers ready", h.opts.Workers))
	if h.onUp != nil {
		h.onUp(h)
	}
}

// reloadEvent tells systemd about reloads and answers the control
// clients waiting for one to end.
func (h *herd) reloadEvent(e cluster.Event) {
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
	h.mu.Lock()
	waiting := h.reloads
	h.reloads = nil
	h.mu.Unlock()
	for _, c := range waiting {
		c <- err
	}
}

// sdNotify tells systemd herd's state when herd runs as a Type=notify
// service (NOTIFY_SOCKET set); otherwise it does nothing.
func sdNotify(state string) {
	daemon.SdNotify(false, state)
}

// boundAddrs returns the addresses bound for --listen.
func (h *herd) boundAddrs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bound...)
}

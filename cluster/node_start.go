package cluster

import (
	"encoding/json"
	"time"

	"github.com/herdhq/herd/ipc"
)

// startGrace is how long a worker that never asks for a server must run,
// once its start has settled, to count as ready (the one-second rule).
const startGrace = time.Second

// cmdPreload marks the messages herd's Node preload (node_preload.js)
// sends the primary about its worker.
const cmdPreload = "NODE_HERD_PRELOAD"

// The acts of the preload's messages.
const (
	// preloadSettled: the app's start settled (its main module ran, then
	// startGrace passed with no module loaded) and it made no server.
	preloadSettled = "settled"
	// preloadPrimaryCheck: the app read cluster.isPrimary (or isMaster),
	// which is false in herd's workers: it is written as a primary too.
	preloadPrimaryCheck = "primaryCheck"
)

// nodeStartNotice is the notice, once per primary, for an app that
// checks whether it is the cluster's primary.
const nodeStartNotice = "the app reads cluster.isPrimary, which is false in herd's workers " +
	"(herd is the primary): only the app's worker branch runs, in each worker; " +
	"its primary branch (cluster.fork, ...) does not run, and the number of workers is herd's -n"

// preloadMsg handles a message of the preload on the loop. A Node worker
// is ready when its first server listens (nodeListening); one that made
// no server by the time its start settled is ready then, as the
// one-second rule would have it.
func (p *Primary) preloadMsg(m *member, im *ipc.Message) {
	im.CloseHandle()
	var v struct {
		Act string `json:"act"`
	}
	if m.node == nil || json.Unmarshal(im.Data, &v) != nil {
		return
	}
	switch v.Act {
	case preloadSettled:
		p.noServerReady(m)
	case preloadPrimaryCheck:
		if !p.primaryNoticed {
			p.primaryNoticed = true
			p.emit(Event{Type: EventNotice, WorkerID: m.id, Pid: m.cmd.Pid(), Detail: nodeStartNotice})
		}
	}
}

// noServerReady marks a Node worker ready if it never asked for a
// server.
func (p *Primary) noServerReady(m *member) {
	if p.cfg.Readiness == ReadyOnListen && m.node != nil && !m.node.asked {
		p.markReady(m)
	}
}

// nodeOnline starts the one-second rule of a Node worker that runs
// without the preload (IdleGrace < 0): startGrace after its first
// message, it is ready unless it asked for a server by then.
func (p *Primary) nodeOnline(m *member) {
	if m.node.preloaded {
		return
	}
	p.after(startGrace, control{f: func() { p.noServerReady(m) }, done: make(chan struct{})})
}

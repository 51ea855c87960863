package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/herdhq/herd/ipc"
)

// HandleInternal routes the internal messages whose cmd is cmd, coming
// from the primary, to f; without a route they are dropped. It is how a
// package built on cluster (package state) adds its own messages to the
// worker's channel. cmd must be in herd's namespace, "NODE_HERD_" followed
// by a name, and can be routed once. f runs on the channel's read
// goroutine: it must not block, and it owns the message's handle. Outside
// a worker HandleInternal returns an error.
func HandleInternal(cmd string, f func(*ipc.Message)) error {
	w, err := self()
	if err != nil {
		return err
	}
	if w == nil {
		return errors.New("cluster: HandleInternal: this process is not a cluster worker")
	}
	if !strings.HasPrefix(cmd, cmdHerd+"_") || len(cmd) == len(cmdHerd)+1 {
		return fmt.Errorf("cluster: HandleInternal: %q is not NODE_HERD_ and a name", cmd)
	}
	if _, taken := w.hooks.LoadOrStore(cmd, f); taken {
		return fmt.Errorf("cluster: HandleInternal: %s is routed already", cmd)
	}
	return nil
}

// hook returns the route for cmd, or nil.
func (w *worker) hook(cmd string) func(*ipc.Message) {
	if f, ok := w.hooks.Load(cmd); ok {
		return f.(func(*ipc.Message))
	}
	return nil
}

package cluster

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// envNodeUniqueID makes a Node program that has a channel a cluster
// worker; its value is cluster.worker.id. Node deletes it once read.
const envNodeUniqueID = "NODE_UNIQUE_ID"

// IsNodeProgram reports whether a program path or name is Node.js's:
// node or nodejs, perhaps with a version (node20). The cluster starts such
// workers as Node cluster workers.
func IsNodeProgram(name string) bool {
	base := filepath.Base(name)
	rest, ok := strings.CutPrefix(base, "nodejs")
	if !ok {
		rest, ok = strings.CutPrefix(base, "node")
	}
	return ok && strings.Trim(rest, "0123456789.") == ""
}

// isNode reports whether a worker's command is to run as a Node cluster
// worker.
func (p *Primary) isNode(c *proc.Cmd) bool {
	return p.cfg.Node || IsNodeProgram(c.Path) || (len(c.Args) > 0 && IsNodeProgram(c.Args[0]))
}

// nodeCommand makes a Node worker's command a Node cluster worker's:
// NODE_UNIQUE_ID set, herd's preload in NODE_OPTIONS, and the answers to newconn taken on the channel's
// read goroutine. Other workers never get NODE_UNIQUE_ID: a Node program
// they start would inherit it without a channel and silently exit 0.
func (p *Primary) nodeCommand(m *member, c *proc.Cmd) {
	c.Env = withoutEnv(c.Env, envNodeUniqueID)
	if !p.isNode(c) {
		return
	}
	w := newNodeWorker(m)
	m.node = w
	c.Env = append(c.Env, envNodeUniqueID+"="+strconv.Itoa(m.id))
	c.Env = p.preloadEnv(c.Env)
	w.preloaded = p.cfg.IdleGrace >= 0 && p.preload.path != ""
	post := c.ChannelOptions.Internal
	c.ChannelOptions.Internal = func(im *ipc.Message) {
		if !w.answered(im) {
			post(im)
		}
	}
}

// withoutEnv returns env without the variable key.
func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

package cluster

// The preload herd puts into Node workers (NODE_OPTIONS=--require), so
// that a disconnect drains keep-alive HTTP connections instead of cutting
// them: see node_preload.js.

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
)

//go:embed node_preload.js
var nodePreloadJS []byte

// nodePreload is the preload's file: written in the temporary directory
// when a Node worker first needs it, written again if it went missing (a
// cleaner of /tmp, say), removed when Run returns. It is owned by the
// primary's loop.
type nodePreload struct {
	path string
}

// file returns the preload's path, writing the file if it is missing.
func (n *nodePreload) file() (string, error) {
	if n.path != "" {
		if _, err := os.Stat(n.path); err == nil {
			return n.path, nil
		}
	}
	f, err := os.CreateTemp("", "herd-node-preload-*.js")
	if err != nil {
		return "", fmt.Errorf("cluster: writing the Node preload: %w", err)
	}
	_, err = f.Write(nodePreloadJS)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("cluster: writing the Node preload: %w", err)
	}
	n.remove()
	n.path = f.Name()
	return n.path, nil
}

// remove deletes the file, if written.
func (n *nodePreload) remove() {
	if n.path != "" {
		os.Remove(n.path)
		n.path = ""
	}
}

// preloadEnv adds the preload to a Node worker's environment, after any
// NODE_OPTIONS of the user's; without a file (it could not be written,
// which is logged) the worker runs as Node would.
func (p *Primary) preloadEnv(env []string) []string {
	if p.cfg.IdleGrace < 0 {
		return env
	}
	path, err := p.preload.file()
	if err != nil {
		p.cfg.Logger.Warn(err.Error() + "; Node workers' keep-alive connections will be closed at once on a disconnect")
		return env
	}
	opts := "--require " + nodeQuote(path)
	if v := envValue(env, "NODE_OPTIONS"); strings.TrimSpace(v) != "" {
		opts = v + " " + opts
	}
	env = withoutEnv(env, "NODE_OPTIONS")
	return append(env, "NODE_OPTIONS="+opts)
}

// nodeQuote quotes s for NODE_OPTIONS, which splits on spaces and takes
// double quotes with backslash escapes.
func nodeQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// envValue returns the value of env's last variable key, as the process
// will see it.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

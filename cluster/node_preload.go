package cluster

// The preload herd puts into Node workers (NODE_OPTIONS=--require), so
// that a disconnect drains keep-alive HTTP connections instead of cutting
// them: see node_preload.js.

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed node_preload.js
var nodePreloadJS []byte

// nodePreload is the preload's file, owned by the primary's loop. It is
// written once per herd version into the user's cache directory
// ($XDG_CACHE_HOME/herd or ~/.cache/herd), named by its content, and left
// there, so that nothing is left behind however herd ends. Without a cache
// directory it goes to the temporary directory and is removed when Run
// returns. Either is written again if it went missing.
type nodePreload struct {
	path string
	temp bool // in the temporary directory: remove at the end
}

// file returns the preload's path, writing the file if it is missing.
func (n *nodePreload) file() (string, error) {
	if n.path != "" {
		if _, err := os.Stat(n.path); err == nil {
			return n.path, nil
		}
	}
	n.remove()
	if dir, err := os.UserCacheDir(); err == nil {
		if path, err := writePreload(filepath.Join(dir, "herd")); err == nil {
			n.path = path
			return path, nil
		}
	}
	f, err := os.CreateTemp("", "herd-node-preload-*.js")
	if err == nil {
		err = writeClose(f)
	}
	if err != nil {
		return "", fmt.Errorf("cluster: writing the Node preload: %w", err)
	}
	n.path, n.temp = f.Name(), true
	return n.path, nil
}

// writePreload makes sure dir holds the preload under its content's name,
// and returns its path. A new file is written aside and renamed into
// place, so that a Node starting meanwhile never reads half of it.
func writePreload(dir string) (string, error) {
	sum := sha256.Sum256(nodePreloadJS)
	path := filepath.Join(dir, fmt.Sprintf("node-preload-%x.js", sum[:8]))
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, nodePreloadJS) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".node-preload-*")
	if err != nil {
		return "", err
	}
	if err := writeClose(f); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return path, nil
}

// writeClose writes the preload into f and closes it; on an error the
// file is removed.
func writeClose(f *os.File) error {
	_, err := f.Write(nodePreloadJS)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// remove deletes the file if it is a temporary one, and forgets it.
func (n *nodePreload) remove() {
	if n.temp {
		os.Remove(n.path)
	}
	n.path, n.temp = "", false
}

// envNodeOptions carries the user's NODE_OPTIONS past the preload, which
// puts them back for the worker's own children.
const envNodeOptions = "HERD_NODE_OPTIONS"

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
	user := envValue(env, "NODE_OPTIONS")
	opts := "--require " + nodeQuote(path)
	if strings.TrimSpace(user) != "" {
		opts = user + " " + opts
	}
	env = withoutEnv(withoutEnv(env, "NODE_OPTIONS"), envNodeOptions)
	return append(env, "NODE_OPTIONS="+opts, envNodeOptions+"="+user)
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

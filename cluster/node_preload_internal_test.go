package cluster

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The preload goes after the user's NODE_OPTIONS, quoted so that Node
// itself finds it in a directory whose name has a space and a quote. It
// lives in the user's cache directory, one file for every primary, and is
// written again when it went missing.
func TestPreloadEnv(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	cache := oddDir(t)
	t.Setenv("XDG_CACHE_HOME", cache)
	p := New(Config{IdleGrace: time.Second})
	env := p.preloadEnv([]string{"A=1", "NODE_OPTIONS=--max-old-space-size=64"})
	opts := envValue(env, "NODE_OPTIONS")
	if !strings.HasPrefix(opts, "--max-old-space-size=64 --require ") || len(env) != 3 {
		t.Fatalf("env %q", env)
	}
	path := p.preload.path
	if filepath.Dir(path) != filepath.Join(cache, "herd") {
		t.Fatalf("preload at %s, want it in %s/herd", path, cache)
	}
	if cached := runNode(t, node, env, "modules"); !strings.Contains(cached, path) {
		t.Fatalf("node did not load %s; its modules: %s", path, cached)
	}
	// The app's children get the user's NODE_OPTIONS, not the preload.
	if got := runNode(t, node, env, "options"); got != "--max-old-space-size=64 undefined\n" {
		t.Fatalf("the app sees NODE_OPTIONS and HERD_NODE_OPTIONS %q", got)
	}
	if got := runNode(t, node, p.preloadEnv([]string{"A=1"}), "options"); got != "undefined undefined\n" {
		t.Fatalf("without the user's NODE_OPTIONS, the app sees %q", got)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, nodePreloadJS) {
		t.Fatalf("preload file: %v", err)
	}
	p.preload.remove()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the cached preload was removed: %v", err)
	}
	os.Remove(path)
	p2 := New(Config{})
	if p2.preloadEnv(nil); p2.preload.path != path {
		t.Fatalf("second primary's preload at %s, want %s", p2.preload.path, path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("preload not written again: %v", err)
	}
	if env := New(Config{IdleGrace: -1}).preloadEnv([]string{"A=1"}); len(env) != 1 {
		t.Fatalf("negative IdleGrace: env %q, want no preload", env)
	}
}

// Without a cache directory the preload is a temporary file, removed at
// the end.
func TestPreloadWithoutCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	tmp := oddDir(t)
	t.Setenv("TMPDIR", tmp)
	p := New(Config{})
	p.preloadEnv(nil)
	path := p.preload.path
	if filepath.Dir(path) != tmp {
		t.Fatalf("preload at %s, want it in %s", path, tmp)
	}
	p.preload.remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("temporary preload not removed: %v", err)
	}
}

// oddDir is a new directory whose name has a space and a double quote.
func oddDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), `a b"c`)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runNode runs node with env and returns what it prints: the modules it
// loaded, or its NODE_OPTIONS and HERD_NODE_OPTIONS.
func runNode(t *testing.T, node string, env []string, what string) string {
	t.Helper()
	script := `console.log(Object.keys(require.cache).join("\n"))`
	if what == "options" {
		script = `console.log(process.env.NODE_OPTIONS, process.env.HERD_NODE_OPTIONS)`
	}
	cmd := exec.Command(node, "-e", script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node with %q: %v\n%s", env, err, out)
	}
	return string(out)
}

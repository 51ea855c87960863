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
	if !strings.HasPrefix(opts, "--max-old-space-size=64 --require ") || len(env) != 2 {
		t.Fatalf("env %q", env)
	}
	path := p.preload.path
	if filepath.Dir(path) != filepath.Join(cache, "herd") {
		t.Fatalf("preload at %s, want it in %s/herd", path, cache)
	}
	if cached := runNode(t, node, env); !strings.Contains(cached, path) {
		t.Fatalf("node did not load %s; its modules: %s", path, cached)
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

// runNode runs node with env and returns the modules it loaded.
func runNode(t *testing.T, node string, env []string) string {
	t.Helper()
	cmd := exec.Command(node, "-e", `console.log(Object.keys(require.cache).join("\n"))`)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node with %q: %v\n%s", env, err, out)
	}
	return string(out)
}

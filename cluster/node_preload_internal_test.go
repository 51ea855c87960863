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
// itself finds it in a directory whose name has a space and a quote, and
// is written again when it went missing.
func TestPreloadEnv(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	tmp := filepath.Join(t.TempDir(), `a b"c`)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	p := New(Config{IdleGrace: time.Second})
	defer p.preload.remove()
	env := p.preloadEnv([]string{"A=1", "NODE_OPTIONS=--max-old-space-size=64"})
	opts := envValue(env, "NODE_OPTIONS")
	if !strings.HasPrefix(opts, "--max-old-space-size=64 --require ") || len(env) != 2 {
		t.Fatalf("env %q", env)
	}
	cached := runNode(t, node, env)
	if !strings.Contains(cached, p.preload.path) {
		t.Fatalf("node did not load %s; its modules: %s", p.preload.path, cached)
	}
	if b, err := os.ReadFile(p.preload.path); err != nil || !bytes.Equal(b, nodePreloadJS) {
		t.Fatalf("preload file: %v", err)
	}
	old := p.preload.path
	os.Remove(old)
	p.preloadEnv(nil)
	if _, err := os.Stat(p.preload.path); err != nil || p.preload.path == old {
		t.Fatalf("preload not written again: %s, %v", p.preload.path, err)
	}
	path := p.preload.path
	p.preload.remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("preload not removed: %v", err)
	}
	if env := New(Config{IdleGrace: -1}).preloadEnv([]string{"A=1"}); len(env) != 1 {
		t.Fatalf("negative IdleGrace: env %q, want no preload", env)
	}
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

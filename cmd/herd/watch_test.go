package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// watchApp is an unmodified Node app whose answer is its version.
const watchApp = `
const http = require('http');
const version = 'VERSION';
http.createServer((req, res) => res.end(version + '\n')).listen(+process.env.PORT);
`

// watchServedWithin is the bound: a saved change is served
// within 5 s (300 ms of quiet, then one new worker ready).
const watchServedWithin = 5 * time.Second

// TestWatchReloadsOnSave runs "herd run --watch -- node app.js" under a
// load loop: changes in node_modules, .git and --watch-ignore'd files
// reload nothing; an editor's save of app.js is served within 5 s, by
// one rolling reload, with no failed request.
func TestWatchReloadsOnSave(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	testutil.CheckFDs(t)
	dir, port := t.TempDir(), freePort(t)
	for _, d := range []string{"node_modules/lib", ".git"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	app := writeFile(t, dir, "app.js", strings.Replace(watchApp, "VERSION", "v1", 1))
	h := startHerd(t, []string{"PORT=" + port}, "-n", "2", "--watch", "--watch-ignore=*.log", "--", "node", app)
	before := pidsOf(h.waitWorkers(2))
	u := "http://127.0.0.1:" + port + "/"
	waitAnswer(t, u, "v1\n") // a Node worker may count as ready (1 s up) before it listens
	ok, failed := loadDuring(t, u, func() {
		touchIgnored(t, dir)
		if st := h.status(); !samePids(pidsOf(st), before) || strings.Contains(h.stderr.String(), "generation=") {
			t.Errorf("ignored files reloaded the workers: %v, were %v", pidsOf(st), before)
		}
		saved := time.Now()
		editorSave(t, app, strings.Replace(watchApp, "VERSION", "v2", 1))
		took := waitAnswer(t, u, "v2\n")
		t.Logf("the change was served %s after the save", took.Sub(saved).Round(time.Millisecond))
		if took.Sub(saved) > watchServedWithin {
			t.Errorf("the change was served %s after the save, over %s", took.Sub(saved), watchServedWithin)
		}
		h.stderr.waitFor(t, "done generation=1")
	})
	if failed != 0 || ok == 0 {
		t.Fatalf("during the watch reload: %d requests ok, %d failed", ok, failed)
	}
	time.Sleep(time.Second) // a second reload would start 300 ms after a late event
	if n := strings.Count(h.stderr.String(), "started generation="); n != 1 {
		t.Fatalf("%d reloads, want 1:\n%s", n, h.stderr)
	}
	if after := pidsOf(h.waitWorkers(2)); len(after) != 2 || anyShared(after, before) {
		t.Fatalf("workers %v after the reload, were %v", after, before)
	}
}

// touchIgnored changes what --watch skips, and waits longer than the
// debounce.
func touchIgnored(t *testing.T, dir string) {
	for _, f := range []string{"node_modules/lib/index.js", ".git/HEAD", "server.log", ".env"} {
		writeFile(t, dir, f, "changed")
	}
	time.Sleep(1500 * time.Millisecond)
}

// editorSave writes path as editors do: a temporary file written in
// parts, renamed over it.
func editorSave(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".swp-tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.SplitAfter(data, "\n") {
		f.WriteString(line)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitAnswer polls url until it answers want, and returns when.
func waitAnswer(t *testing.T, url, want string) time.Time {
	t.Helper()
	for deadline := time.Now().Add(liveness); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if body, err := get(url); err == nil && body == want {
			return time.Now()
		}
	}
	t.Fatalf("%s never answered %q", url, want)
	return time.Time{}
}

func anyShared(a, b map[int]bool) bool {
	for pid := range a {
		if b[pid] {
			return true
		}
	}
	return false
}

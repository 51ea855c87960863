package cli

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/spf13/pflag"
)

// Bounds of the watch tests, generous for a busy machine.
const (
	testDebounce   = 100 * time.Millisecond
	watchLiveness  = 10 * time.Second // a change is seen and reloaded
	watchQuietTime = 8 * testDebounce // long enough for a reload that should not come
	watchPoll      = 20 * time.Millisecond
)

// watchRig runs a watch loop over a temporary tree with a counting
// reload in place of the cluster's.
type watchRig struct {
	t       *testing.T
	dir     string
	reloads atomic.Int64
	gate    chan struct{} // when set, each reload waits for a value
	own     []string      // herd's own files, as the tree's own
}

// startWatchRig watches a new temporary directory (with ignore globs)
// until the test ends.
func startWatchRig(t *testing.T, ignore []string, gate chan struct{}) *watchRig {
	t.Helper()
	r := newWatchRig(t, gate)
	r.mkdir("node_modules/pkg", ".git", "src")
	r.start([]string{r.dir}, ignore)
	return r
}

// newWatchRig makes a rig over a new temporary directory.
func newWatchRig(t *testing.T, gate chan struct{}) *watchRig {
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	return &watchRig{t: t, dir: t.TempDir(), gate: gate}
}

// start runs the watch loop over roots until the test ends.
func (r *watchRig) start(roots, ignore []string) {
	r.t.Helper()
	tree, err := openWatchTree(roots, ignore, defaultWatchMaxDirs)
	if err != nil {
		r.t.Fatal(err)
	}
	tree.own = r.own
	loop := newWatchLoop(tree, r.reload, slog.New(slog.NewTextHandler(io.Discard, nil)), testDebounce)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); loop.run(stop) }()
	r.t.Cleanup(func() { close(stop); <-done })
}

func (r *watchRig) reload() error {
	if r.gate != nil {
		<-r.gate
	}
	r.reloads.Add(1)
	return nil
}

func (r *watchRig) mkdir(paths ...string) {
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(r.dir, p), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *watchRig) write(path, data string) {
	if err := os.WriteFile(filepath.Join(r.dir, path), []byte(data), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// waitReloads waits until n reloads have run, then checks that no more
// follow.
func (r *watchRig) waitReloads(n int64) {
	r.t.Helper()
	deadline := time.Now().Add(watchLiveness)
	for r.reloads.Load() < n && time.Now().Before(deadline) {
		time.Sleep(watchPoll)
	}
	time.Sleep(watchQuietTime)
	if got := r.reloads.Load(); got != n {
		r.t.Fatalf("%d reloads, want %d", got, n)
	}
}

// saveLikeAnEditor writes path as vim and VS Code do: a backup and a
// temporary file written in several parts, renamed over the file.
func (r *watchRig) saveLikeAnEditor(path, data string) {
	r.write(path+"~", "backup")
	tmp := filepath.Join(r.dir, path+".tmp-save")
	f, err := os.Create(tmp)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, part := range strings.SplitAfter(data, "\n") {
		f.WriteString(part)
		f.Sync()
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(r.dir, path)); err != nil {
		r.t.Fatal(err)
	}
	os.Remove(filepath.Join(r.dir, path+"~"))
}

// TestWatchEditorSaveIsOneReload: the events of one save (a backup, a
// temporary file written in parts, a rename over the file) make one
// reload, after the tree is quiet.
func TestWatchEditorSaveIsOneReload(t *testing.T) {
	r := startWatchRig(t, nil, nil)
	r.write("app.js", "v1\n")
	r.waitReloads(1)
	r.saveLikeAnEditor("app.js", "line 1\nline 2\nline 3\n")
	r.waitReloads(2)
}

// TestWatchSkipsIgnored: node_modules, __pycache__, .git, dot-files,
// editors' backups, --watch-ignore globs (by name, and by path under the
// tree) and herd's own log file and its rotations make no reload; a
// change beside them does.
func TestWatchSkipsIgnored(t *testing.T) {
	r := newWatchRig(t, nil)
	r.mkdir("node_modules/pkg", ".git", "src")
	r.own = []string{filepath.Join(r.dir, "herd.out")}
	r.start([]string{r.dir}, []string{"*.log", "src/gen"})
	r.write("herd.out", "x")
	r.write("herd.out.1", "x")
	r.mkdir("src/gen/deep")
	r.write("node_modules/pkg/index.js", "x")
	r.write(".git/HEAD", "x")
	r.write(".env", "x")
	r.write("app.js~", "x")
	r.write("server.log", "x")
	r.write("src/a.log", "x")
	r.write("src/gen/deep/out.js", "x")
	r.mkdir("src/__pycache__")
	r.write("src/__pycache__/m.pyc", "x")
	r.waitReloads(0)
	r.write("src/app.js", "x")
	r.waitReloads(1)
}

// TestWatchNewDirectory: a directory created under the tree is watched
// too, and so is one inside it created at once.
func TestWatchNewDirectory(t *testing.T) {
	r := startWatchRig(t, nil, nil)
	r.mkdir("lib/sub")
	r.waitReloads(1)
	r.write("lib/sub/x.js", "x")
	r.waitReloads(2)
}

// TestWatchOneReloadAtATime: changes during a reload make exactly one
// more reload, after it.
func TestWatchOneReloadAtATime(t *testing.T) {
	gate := make(chan struct{})
	r := startWatchRig(t, nil, gate)
	r.write("a.js", "1")
	time.Sleep(watchQuietTime) // the first reload is waiting at the gate
	for i := 0; i < 3; i++ {
		r.write("a.js", strings.Repeat("x", i))
		time.Sleep(2 * testDebounce)
	}
	gate <- struct{}{}
	r.waitReloads(1)
	gate <- struct{}{}
	r.waitReloads(2)
}

// TestWatchBound: a tree with more directories than the bound is
// refused with an error naming the way out, and leaks no watch.
func TestWatchBound(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	for i := 0; i < 6; i++ {
		os.MkdirAll(filepath.Join(dir, "d", strings.Repeat("x", i+1)), 0o755)
	}
	_, err := openWatchTree([]string{dir}, nil, 5)
	if err == nil || !strings.Contains(err.Error(), "more than 5 directories") || !strings.Contains(err.Error(), "--watch-ignore") {
		t.Fatalf("openWatchTree over the bound: %v", err)
	}
	tree, err := openWatchTree([]string{dir}, []string{"d"}, 5)
	if err != nil {
		t.Fatalf("with the tree's big part ignored: %v", err)
	}
	tree.close()
}

// TestWatchSingleFile: --watch=FILE reloads on that file's changes
// only, also when an editor replaces it.
func TestWatchSingleFile(t *testing.T) {
	r := newWatchRig(t, nil)
	r.write("app.js", "1")
	r.start([]string{filepath.Join(r.dir, "app.js")}, nil)
	r.write("other.js", "x")
	r.waitReloads(0)
	r.saveLikeAnEditor("app.js", "2\n3\n")
	r.waitReloads(1)
}

// TestProgramDir: --watch alone watches the directory of the command's
// first file argument, else the working directory.
func TestProgramDir(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.js")
	os.WriteFile(app, []byte("x"), 0o644)
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"node", "--inspect", app}, dir},
		{[]string{app, "serve"}, dir},
		{[]string{"python3", "-m", "http.server"}, "."},
		{[]string{"node"}, "."}, // not node's own directory
	} {
		if got := programDir(c.cmd); got != c.want {
			t.Errorf("programDir(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

// TestWatchFlags: --watch alone is the program's directory, --watch=PATH
// names paths, --watch PATH is refused (PATH would run as the command),
// and a bad --watch-ignore glob is a usage error.
func TestWatchFlags(t *testing.T) {
	for _, c := range []struct {
		args  []string
		watch []string
		err   string
	}{
		{[]string{"--watch", "--watch-ignore=*.log", "--", "node", "app.js"}, []string{watchProgramDir}, ""},
		{[]string{"--watch=src", "--watch=lib", "--", "node", "app.js"}, []string{"src", "lib"}, ""},
		{[]string{"--watch", "src", "--", "node", "app.js"}, nil, "--watch=PATH"},
		{[]string{"--watch", "--watch-ignore=[", "--", "node"}, nil, "--watch-ignore"},
	} {
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		fs.SetInterspersed(false)
		var o runOptions
		o.addRunFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		o.Command = fs.Args()
		err := o.watchOptions.validate(o.Command)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(o.Watch, c.watch) {
			t.Errorf("%q: watch %q (%v), want %q", c.args, o.Watch, err, c.watch)
		}
	}
}

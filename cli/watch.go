package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of herd run --watch.
const (
	// watchProgramDir is --watch without a value: the program's directory.
	watchProgramDir = "(program's directory)"
	// watchDebounce is how long the tree must stay quiet after a change
	// before the reload starts: an editor's save (a temporary file,
	// several writes, a rename over the file) makes one reload.
	watchDebounce = 300 * time.Millisecond
	// defaultWatchMaxDirs bounds the directories (inotify watches) one
	// herd watches: a --watch over a huge tree fails with a clear error
	// instead of using up the user's inotify watches.
	defaultWatchMaxDirs = 4096
)

// watchOptions are herd run's settings for restarting on file changes.
type watchOptions struct {
	Watch       []string // --watch: paths to watch; watchProgramDir for the default
	WatchIgnore []string // --watch-ignore: globs of names or relative paths to skip
}

// addFlags registers --watch and --watch-ignore on fs.
func (o *watchOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Watch, "watch", nil,
		"reload the workers (one at a time, as herd reload does) when a file under `PATH` changes, 300ms after the last change (repeatable; --watch alone: the directory of the program's first file argument, else the working directory); node_modules, __pycache__, dot-files, dot-directories and --log-file are skipped")
	fs.Lookup("watch").NoOptDefVal = watchProgramDir
	fs.StringArrayVar(&o.WatchIgnore, "watch-ignore", nil,
		"with --watch, skip files and directories whose name or path under the watched one matches `GLOB` (repeatable): '*.log', 'tmp', 'build/*'")
}

// validate checks the watch settings against the command.
func (o *watchOptions) validate(command []string) error {
	for _, g := range o.WatchIgnore {
		if _, err := filepath.Match(g, ""); err != nil {
			return usagef("--watch-ignore %q: %w", g, err)
		}
	}
	if len(o.Watch) > 0 && slices.Contains(command, "--") {
		return usagef("--watch takes its path as --watch=PATH; --watch PATH runs PATH as the command")
	}
	return nil
}

// watchRoots resolves --watch to absolute paths, without repeats.
func (o *watchOptions) watchRoots(command []string) ([]string, error) {
	var roots []string
	for _, p := range o.Watch {
		if p == watchProgramDir {
			p = programDir(command)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, usagef("--watch: %w", err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, usagef("--watch: %w", err)
		}
		if !slices.Contains(roots, abs) {
			roots = append(roots, abs)
		}
	}
	return roots, nil
}

// programDir is the directory --watch watches by default: that of the
// command's first argument naming a file (app.js in node app.js, or the
// program itself when given as a path), else the working directory.
func programDir(command []string) string {
	for i, a := range command {
		if (i == 0 && !strings.Contains(a, "/")) || strings.HasPrefix(a, "-") {
			continue
		}
		if fi, err := os.Stat(a); err == nil && fi.Mode().IsRegular() {
			return filepath.Dir(a)
		}
	}
	return "."
}

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"
)

// watchTree is what --watch watches: directory trees, each directory
// with a watch of its own (inotify watches no tree), and single files,
// through a watch of their directory (an editor's save replaces the
// file). Only the watch loop's goroutine uses it.
type watchTree struct {
	w       *fsnotify.Watcher
	ignore  []string        // --watch-ignore globs
	own     []string        // herd's own files (--log-file): PATH and PATH.N never count
	maxDirs int             // at most this many watched directories
	trees   []string        // watched trees, absolute
	files   map[string]bool // watched single files, absolute
	dirs    map[string]bool // directories with a watch
}

// openWatchTree watches roots (directories recursively, files alone),
// skipping what ignore and the defaults say, with at most maxDirs watches.
func openWatchTree(roots, ignore []string, maxDirs int) (*watchTree, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w%s", err, inotifyHint(err))
	}
	t := &watchTree{w: w, ignore: ignore, maxDirs: maxDirs, files: map[string]bool{}, dirs: map[string]bool{}}
	for _, r := range roots {
		if err := t.addRoot(r); err != nil {
			w.Close()
			return nil, err
		}
	}
	return t, nil
}

// addRoot watches one --watch path.
func (t *watchTree) addRoot(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if !fi.IsDir() {
		t.files[root] = true
		return t.addDir(filepath.Dir(root))
	}
	t.trees = append(t.trees, root)
	return t.addTree(root)
}

// addTree watches dir and every directory under it that is not skipped.
func (t *watchTree) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil && path == dir:
			return fmt.Errorf("watch: %w", err)
		case err != nil || !d.IsDir():
			return nil // gone meanwhile, or unreadable: nothing to watch
		case path != dir && t.skipped(path):
			return filepath.SkipDir
		}
		return t.addDir(path)
	})
}

// addDir adds a watch of dir, within the bound.
func (t *watchTree) addDir(dir string) error {
	if t.dirs[dir] {
		return nil
	}
	if len(t.dirs) >= t.maxDirs {
		return fmt.Errorf("watch: more than %d directories to watch (at %s): name fewer with --watch=PATH, or skip some with --watch-ignore", t.maxDirs, dir)
	}
	if err := t.w.Add(dir); err != nil {
		return fmt.Errorf("watch: %s: %w%s", dir, err, inotifyHint(err))
	}
	t.dirs[dir] = true
	return nil
}

// forget drops the watches of dir and of the directories under it, once
// it is removed or renamed (its new name, if any, comes as a create).
func (t *watchTree) forget(dir string) {
	for d := range t.dirs {
		if d == dir || strings.HasPrefix(d, dir+string(filepath.Separator)) {
			t.w.Remove(d) // the kernel may have dropped it already
			delete(t.dirs, d)
		}
	}
}

// relevant reports whether a change at path is one --watch asks for.
func (t *watchTree) relevant(path string) bool {
	for _, own := range t.own {
		if path == own || strings.HasPrefix(path, own+".") {
			return false // herd's log: else each line logged would reload
		}
	}
	if t.files[path] {
		return true
	}
	for _, root := range t.trees {
		if path == root || strings.HasPrefix(path, root+string(filepath.Separator)) {
			return !t.skipped(path)
		}
	}
	return false
}

// skipped reports whether path, under one of the trees, is left out: a
// part of its path under the tree is node_modules, __pycache__, a dot-file or
// dot-directory (.git), an editor's backup (NAME~), or matches an
// --watch-ignore glob, as may the whole path under the tree.
func (t *watchTree) skipped(path string) bool {
	rel := t.relative(path)
	if rel == "" {
		return false
	}
	if t.matches(filepath.ToSlash(rel)) {
		return true
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "node_modules" || part == "__pycache__" || strings.HasPrefix(part, ".") || strings.HasSuffix(part, "~") || t.matches(part) {
			return true
		}
	}
	return false
}

// relative is path under the tree that holds it, or "".
func (t *watchTree) relative(path string) string {
	for _, root := range t.trees {
		if rel, err := filepath.Rel(root, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return ""
}

// matches reports whether name matches an --watch-ignore glob.
func (t *watchTree) matches(name string) bool {
	for _, g := range t.ignore {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	return false
}

// close drops every watch.
func (t *watchTree) close() error { return t.w.Close() }

// inotifyHint says which system limit an inotify error hit, if any.
func inotifyHint(err error) string {
	switch {
	case errors.Is(err, unix.ENOSPC):
		return " (the system's inotify watches are used up: raise fs.inotify.max_user_watches, or watch less)"
	case errors.Is(err, unix.EMFILE):
		return " (too many inotify instances: raise fs.inotify.max_user_instances)"
	}
	return ""
}

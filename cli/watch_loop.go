package cli

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchLoop turns changes in a watchTree into reloads: one reload
// watchDebounce after the last change of a burst, and never two at once
// (changes during a reload make one more after it). One goroutine, run's,
// owns all of its state.
type watchLoop struct {
	tree     *watchTree
	reload   func() error // a rolling reload, returning when it has ended
	log      *slog.Logger
	debounce time.Duration

	quiet   *time.Timer // fires debounce after the last change
	changed string      // the first changed path since the last reload, or ""
	running bool        // a reload runs
	again   bool        // a change came during the running reload
	done    chan error  // the running reload's result
}

// newWatchLoop makes the loop of tree; run runs it.
func newWatchLoop(tree *watchTree, reload func() error, log *slog.Logger, debounce time.Duration) *watchLoop {
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	return &watchLoop{tree: tree, reload: reload, log: log, debounce: debounce, quiet: quiet, done: make(chan error, 1)}
}

// run handles changes until stop is closed, then waits for a running
// reload to return and drops the watches.
func (l *watchLoop) run(stop <-chan struct{}) {
	defer l.tree.close()
	defer l.quiet.Stop()
	for {
		select {
		case ev := <-l.tree.w.Events:
			l.event(ev)
		case err := <-l.tree.w.Errors:
			l.watchError(err)
		case <-l.quiet.C:
			l.startReload()
		case err := <-l.done:
			l.reloaded(err)
		case <-stop:
			if l.running {
				<-l.done
			}
			return
		}
	}
}

// event notes a change, and watches a directory created in a tree.
func (l *watchLoop) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod || !l.tree.relevant(ev.Name) {
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		l.tree.forget(ev.Name)
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			if err := l.tree.addTree(ev.Name); err != nil {
				l.log.Error("watch", "err", err.Error())
			}
		}
	}
	l.note(ev.Name)
}

// note restarts the quiet period after a change at path.
func (l *watchLoop) note(path string) {
	if l.changed == "" {
		l.changed = path
	}
	l.quiet.Reset(l.debounce)
}

// watchError logs an error of the watches; lost events count as a change.
func (l *watchLoop) watchError(err error) {
	l.log.Warn("watch", "err", err.Error())
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		l.note("(events lost)")
	}
}

// startReload starts a reload once the tree is quiet, or asks for one
// more after the running one.
func (l *watchLoop) startReload() {
	if l.running {
		l.again = true
		return
	}
	l.log.Info("watch", "changed", l.changed, "detail", "reloading the workers")
	l.changed, l.running = "", true
	go func() { l.done <- l.reload() }()
}

// reloaded ends a reload, and starts the one asked for meanwhile.
func (l *watchLoop) reloaded(err error) {
	l.running = false
	if err != nil {
		l.log.Warn("watch", "err", err.Error())
	}
	if l.again {
		l.again = false
		l.startReload()
	}
}

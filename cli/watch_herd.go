package cli

import "slices"

// watchRuntime is what --watch runs in a herd.
type watchRuntime struct {
	watchLoop *watchLoop    // nil without --watch
	watchStop chan struct{} // closed to stop the loop
	watchDone chan struct{} // closed when the loop has returned
}

// openWatch adds the watches of --watch, if set, before the cluster
// starts: a path that is missing or a tree too large is a usage error.
func (h *herd) openWatch() error {
	if len(h.opts.Watch) == 0 {
		return nil
	}
	var roots []string
	for _, pr := range h.progs { // --watch alone: each program's directory
		r, err := h.opts.watchRoots(pr.opts.Command)
		if err != nil {
			return err
		}
		roots = appendNew(roots, r...)
	}
	tree, err := openWatchTree(roots, h.opts.WatchIgnore, defaultWatchMaxDirs)
	if err != nil {
		return usagef("--watch: %w", err)
	}
	if h.logPath != "" {
		tree.own = append(tree.own, h.logPath)
	}
	h.watchLoop = newWatchLoop(tree, func() error { return h.Reload("") }, h.log, watchDebounce)
	h.log.Info("watch", "paths", roots, "dirs", len(tree.dirs))
	return nil
}

// appendNew appends the elements of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// startWatch runs the watch loop, if any.
func (h *herd) startWatch() {
	h.watchStop, h.watchDone = make(chan struct{}), make(chan struct{})
	if h.watchLoop == nil {
		close(h.watchDone)
		return
	}
	go func() {
		defer close(h.watchDone)
		h.watchLoop.run(h.watchStop)
	}()
}

// stopWatch stops the watch loop once the cluster has ended, and waits
// for it.
func (h *herd) stopWatch() {
	close(h.watchStop)
	<-h.watchDone
}

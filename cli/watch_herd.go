package cli

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
	roots, err := h.opts.watchRoots(h.opts.Command)
	if err != nil {
		return err
	}
	tree, err := openWatchTree(roots, h.opts.WatchIgnore, defaultWatchMaxDirs)
	if err != nil {
		return usagef("--watch: %w", err)
	}
	if h.logPath != "" {
		tree.own = append(tree.own, h.logPath)
	}
	h.watchLoop = newWatchLoop(tree, h.Reload, h.log, watchDebounce)
	h.log.Info("watch", "paths", roots, "dirs", len(tree.dirs))
	return nil
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

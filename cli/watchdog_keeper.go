package cli

import (
	"fmt"
	"os"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/proc"
)

// A worker's descendants are herd's too: what a worker starts, even
// daemonised (setsid, double fork), dies when the worker exits or is
// replaced, and with herd, even when herd is killed with SIGKILL. A
// keeper does it, in one of two ways:
//
//   - cgroup (watchdog_cgroup.go): where herd can create a cgroup v2
//     below its own (root, or a delegated cgroup such as a systemd
//     service's with Delegate=yes), each worker starts in a cgroup of
//     its own, herd-PID/wID, which nothing it starts can leave; herd
//     kills it (cgroup.kill) when the worker exits, and the watchdog
//     kills herd-PID if herd dies.
//   - subreaper (watchdog_subreaper.go), elsewhere: herd is the
//     processes' child subreaper, so that orphans of a worker's tree
//     become herd's children; HERD_DESCENDANT_OF in their environment
//     says which worker they came from; herd kills them when that
//     worker exits, reaps them, and tells the watchdog their process
//     groups.
//
// HERD_REAPER=cgroup or HERD_REAPER=subreaper in herd's environment
// picks one (cgroup then fails if herd cannot create one); unset or
// auto, herd tries cgroup first.
type keeper interface {
	// prepare sets up worker id's command before it is started.
	prepare(c *proc.Cmd, id int)
	// event learns of a worker's fork or exit; watchdog is the
	// watchdog's pid (0 if none), a child of herd that is no worker.
	event(e cluster.Event, watchdog int)
	// close kills what the workers left, once they have all exited.
	close()
}

// envReaper picks the keeper: auto (or unset), cgroup or subreaper.
const envReaper = "HERD_REAPER"

// startKeeper picks and starts the keeper, and tells the watchdog of
// the cgroup, if any.
func (h *herd) startKeeper() error {
	mode := os.Getenv(envReaper)
	if mode == "" || mode == "auto" || mode == "cgroup" {
		k, err := newCgroupKeeper(h.exe, h.log)
		if err == nil {
			h.keeper, h.wd.cgroup = k, k.root.Dir
			h.log.Info("descendants", "reaper", "cgroup", "cgroup", k.root.Dir)
			return nil
		}
		if mode == "cgroup" {
			return withCode(ExitError, fmt.Errorf("%s=cgroup: %w", envReaper, err))
		}
		h.log.Info("descendants: no cgroup, herd is their subreaper", "reason", err)
	} else if mode != "subreaper" {
		return usagef("%s must be auto, cgroup or subreaper, got %q", envReaper, mode)
	}
	k, err := newSubreaper(h.log, &h.wd)
	if err != nil {
		h.log.Warn("descendants: no subreaper: a daemon a worker starts may outlive it", "err", err)
		return nil
	}
	h.keeper = k
	h.log.Info("descendants", "reaper", "subreaper")
	return nil
}

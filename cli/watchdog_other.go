//go:build !linux

package cli

import (
	"errors"
	"log/slog"

	"github.com/herdhq/herd/proc"
)

// Outside Linux there are no cgroups and no child subreaper: herd keeps
// only the process groups. A worker's group is killed when the worker
// exits, and by the watchdog when herd dies (SIGKILL included); what
// left the group (setsid, a daemon) may outlive the worker. There is no
// parent-death signal either: herd's Go workers and Node's cluster
// workers exit when their channel to herd closes, and the watchdog is
// what kills any other program's workers when herd is killed.

// errGroupsOnly is why neither keeper starts here.
var errGroupsOnly = errors.New("cgroups and the child subreaper are Linux-only: herd kills workers' process groups only")

// cgroupKeeper is watchdog_cgroup.go's keeper, which never starts here.
type cgroupKeeper struct {
	keeper
	root proc.Cgroup
}

// newCgroupKeeper fails: cgroups are Linux's.
func newCgroupKeeper(string, *slog.Logger) (*cgroupKeeper, error) { return nil, errGroupsOnly }

// subreaper is watchdog_subreaper.go's keeper, which never starts here.
type subreaper struct{ keeper }

// newSubreaper fails: the child subreaper is Linux's.
func newSubreaper(*slog.Logger, *watchdog) (*subreaper, error) { return nil, errGroupsOnly }

// spawn runs start: there is no subreaper to spare the new herd from.
func (r *subreaper) spawn(start func() (int, error)) (int, error) { return start() }

//go:build linux

package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// cgroupGone bounds the wait for a killed cgroup to empty before herd
// removes it at its end.
const cgroupGone = 10 * time.Second

// cgroupKeeper starts each worker in a cgroup of its own below
// herd-PID, a cgroup herd creates below its own, and kills it when the
// worker exits.
type cgroupKeeper struct {
	log  *slog.Logger
	root proc.Cgroup

	mu   sync.Mutex
	subs map[int]proc.Cgroup // by worker id, until the worker exits
	dead []proc.Cgroup       // killed, removed once empty
}

// newCgroupKeeper creates herd-PID below herd's own cgroup and checks
// that a process can start in it (exe __watchdog, which exits at once
// on an empty stdin).
func newCgroupKeeper(exe string, log *slog.Logger) (*cgroupKeeper, error) {
	own, err := proc.OwnCgroup()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(own, "herd-"+strconv.Itoa(os.Getpid()))
	if strings.ContainsAny(dir, "\n\r") {
		return nil, fmt.Errorf("cgroup: a line break in %q", dir)
	}
	proc.Cgroup{Dir: dir}.Remove(cgroupGone) // a dead herd's of the same pid
	root, err := proc.MakeCgroup(dir)
	if err != nil {
		return nil, err
	}
	if err := probeCgroup(root, exe); err != nil {
		root.Remove(cgroupGone)
		return nil, err
	}
	return &cgroupKeeper{log: log, root: root, subs: map[int]proc.Cgroup{}}, nil
}

// probeCgroup starts exe __watchdog in g and waits for it.
func probeCgroup(g proc.Cgroup, exe string) error {
	fd, err := unix.Open(g.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(exe, argWatchdog)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cgroup: cannot start a process in %s: %w", g.Dir, err)
	}
	cmd.Wait()
	return nil
}

// prepare starts the worker in herd-PID/wID (in herd-PID if that
// cannot be made: it then dies with herd, not with the worker).
func (k *cgroupKeeper) prepare(c *proc.Cmd, id int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sub, err := k.root.Sub("w" + strconv.Itoa(id))
	if err != nil {
		k.log.Warn("descendants: no cgroup of its own for the worker", "worker", id, "err", err)
		c.Cgroup = k.root.Dir
		return
	}
	k.subs[id] = sub
	c.Cgroup = sub.Dir
}

// event kills an exited worker's cgroup, and removes those emptied.
func (k *cgroupKeeper) event(e cluster.Event, _ int) {
	if e.Type != cluster.EventExit {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if sub, ok := k.subs[e.WorkerID]; ok {
		delete(k.subs, e.WorkerID)
		if err := sub.Kill(); err != nil {
			k.log.Warn("descendants: kill", "worker", e.WorkerID, "err", err)
		}
		k.dead = append(k.dead, sub)
	}
	k.sweep()
}

// sweep removes the killed cgroups that are empty.
func (k *cgroupKeeper) sweep() {
	left := k.dead[:0]
	for _, g := range k.dead {
		if g.Populated() || g.Remove(0) != nil {
			left = append(left, g)
		}
	}
	clear(k.dead[len(left):])
	k.dead = left
}

// close kills and removes herd-PID and what is left below it.
func (k *cgroupKeeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.root.Remove(cgroupGone); err != nil {
		k.log.Warn("descendants: cgroup", "err", err)
	}
}

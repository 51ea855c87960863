//go:build linux

package cli

import (
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/procstat"
	"golang.org/x/sys/unix"
)

// scan goes over herd's children: it adopts the orphans of workers'
// trees, kills those whose worker has exited (every one when closing),
// and reaps them.
func (r *subreaper) scan() {
	r.expirePending()
	for _, pid := range procstat.AllChildren(r.self) {
		if pid == r.watchdog || r.isWorker(pid) || r.spared[pid] {
			continue
		}
		st, err := procstat.ReadStat(pid)
		if err != nil {
			continue
		}
		a, ok := r.adopted[pid]
		if !ok {
			if a.id, ok = r.origin(pid); !ok {
				continue // perhaps a worker on its way: its pid is not known yet
			}
		}
		if st.State == 'Z' || st.State == 'X' {
			r.reap(pid, a)
			continue
		}
		r.keep(pid, a, st)
	}
}

// origin says which worker pid, a child of herd that is none of its
// workers, came from: its tag's, or 0 for an untagged process (one that
// dropped its environment, or a zombie) when no fork is on its way. ok
// is false when herd cannot tell yet.
func (r *subreaper) origin(pid int) (id int, ok bool) {
	v, tagged := procstat.Getenv(pid, envDescendantOf)
	tok, ids, _ := strings.Cut(v, ":")
	id, err := strconv.Atoi(ids)
	if tagged && tok == r.token && err == nil {
		_, live := r.workers[id]
		return id, live || r.ended[id] // else it is that worker, just forked
	}
	return 0, len(r.pending) == 0
}

// keep records an adopted process, and kills it if its worker has
// exited.
func (r *subreaper) keep(pid int, a adoptee, st procstat.Stat) {
	if _, ok := r.adopted[pid]; !ok {
		a.pgid = r.ownGroup(pid, st)
		if a.pgid > 0 {
			r.wd.group(a.pgid, 1)
		}
		r.adopted[pid] = a
		r.log.Info("adopt", "worker", a.id, "pid", pid, "pgid", st.Pgid, "sid", st.Sid)
	}
	if r.closing || r.ended[a.id] {
		if a.pgid > 0 {
			unix.Kill(-a.pgid, syscall.SIGKILL)
		}
		unix.Kill(pid, syscall.SIGKILL)
	}
}

// ownGroup is pid's process group if only the worker's tree can be in
// it: a session of its own (setsid), or a group it leads; else 0. herd's
// own group is never one.
func (r *subreaper) ownGroup(pid int, st procstat.Stat) int {
	if st.Pgid <= 1 || st.Pgid == r.pgid || st.Pgid == r.self {
		return 0
	}
	if st.Sid != r.sid || st.Pgid == pid {
		return st.Pgid
	}
	return 0
}

// reap waits for the adopted zombie pid, by its pid.
func (r *subreaper) reap(pid int, a adoptee) {
	var ws unix.WaitStatus
	if got, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got != pid {
		return
	}
	if a.pgid > 0 {
		r.wd.group(a.pgid, -1)
	}
	delete(r.adopted, pid)
}

// isWorker reports whether pid is a live worker of herd's.
func (r *subreaper) isWorker(pid int) bool {
	for _, p := range r.workers {
		if p == pid {
			return true
		}
	}
	return false
}

// expirePending forgets the workers prepared too long ago to be forked
// still (their Start failed).
func (r *subreaper) expirePending() {
	for id, t := range r.pending {
		if time.Since(t) > forkStale {
			delete(r.pending, id)
		}
	}
}

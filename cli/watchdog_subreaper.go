//go:build linux

package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// envDescendantOf is in every worker's environment, and so in what it
// starts: "TOKEN:ID", TOKEN being this herd's and ID the worker's id.
const envDescendantOf = "HERD_DESCENDANT_OF"

const (
	scanEvery  = time.Second      // the subreaper's scan without a SIGCHLD
	forkStale  = 30 * time.Second // a prepared worker not forked by then never will be
	adoptedEnd = 10 * time.Second // how long close waits for the adopted to be gone
)

// subreaper makes herd the child subreaper of its workers' trees: a
// process orphaned below a worker (a daemon's double fork, a child of
// an exited worker) becomes herd's child. It reads which worker it came
// from in envDescendantOf, kills it when that worker has exited (at
// once, or when the worker exits), reaps it, and tells the watchdog its
// process group. herd's own children (workers, the watchdog) are reaped
// by os/exec: the subreaper waits only for pids it knows are none of
// them, by pid, never wait(-1).
//
// Its state is owned by its loop goroutine; prepare, event and close
// talk to it through calls.
type subreaper struct {
	log   *slog.Logger
	wd    *watchdog
	token string
	self  int // herd's pid, process group and session
	pgid  int
	sid   int
	calls chan func()
	quit  chan struct{}
	done  chan struct{}

	pending  map[int]time.Time // workers prepared, not forked yet
	workers  map[int]int       // pid of each live worker, by id
	ended    map[int]bool      // workers that exited
	watchdog int
	adopted  map[int]adoptee // by pid
	spared   map[int]bool    // herd's successors (upgrade.go): never adopted
	closing  bool
}

// adoptee is a process herd adopted: the worker it came from (0:
// unknown) and the process group told to the watchdog (0: none).
type adoptee struct{ id, pgid int }

// newSubreaper makes herd a child subreaper and starts the loop.
func newSubreaper(log *slog.Logger, wd *watchdog) (*subreaper, error) {
	tok := make([]byte, 8)
	rand.Read(tok)
	st, err := procstat.ReadStat(os.Getpid())
	if err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("subreaper: %w", err)
	}
	r := &subreaper{log: log, wd: wd, token: hex.EncodeToString(tok), self: os.Getpid(), pgid: st.Pgid, sid: st.Sid,
		calls: make(chan func()), quit: make(chan struct{}), done: make(chan struct{}),
		pending: map[int]time.Time{}, workers: map[int]int{}, ended: map[int]bool{}, adopted: map[int]adoptee{},
		spared: map[int]bool{}}
	go r.loop()
	return r, nil
}

// loop runs the calls and scans herd's children on each SIGCHLD and
// every scanEvery.
func (r *subreaper) loop() {
	defer close(r.done)
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	tick := time.NewTicker(scanEvery)
	defer tick.Stop()
	for {
		select {
		case f := <-r.calls:
			f()
		case <-sigchld:
		case <-tick.C:
		case <-r.quit:
			return
		}
		r.scan()
	}
}

// do runs f on the loop and waits for it.
func (r *subreaper) do(f func()) {
	done := make(chan struct{})
	r.calls <- func() { f(); close(done) }
	<-done
}

// prepare tags the worker's environment, and holds off taking an
// untagged child for adopted until the worker's pid is known.
func (r *subreaper) prepare(c *proc.Cmd, id int) {
	c.Env = slices.DeleteFunc(c.Env, func(kv string) bool { return strings.HasPrefix(kv, envDescendantOf+"=") })
	c.Env = append(c.Env, envDescendantOf+"="+r.token+":"+strconv.Itoa(id))
	r.do(func() { r.pending[id] = time.Now() })
}

// event records a worker's fork or exit; after an exit, the scan kills
// what the worker left.
func (r *subreaper) event(e cluster.Event, watchdog int) {
	r.do(func() {
		r.watchdog = watchdog
		delete(r.pending, e.WorkerID)
		if e.Type == cluster.EventFork {
			r.workers[e.WorkerID] = e.Pid
		} else {
			delete(r.workers, e.WorkerID)
			r.ended[e.WorkerID] = true
		}
	})
}

// spawn runs start, which starts herd's successor (herd upgrade), on the
// loop, and spares the process it returns: no scan may take it for an
// orphan to kill, not even one right after the fork.
func (r *subreaper) spawn(start func() (int, error)) (pid int, err error) {
	r.do(func() {
		if pid, err = start(); err == nil {
			r.spared[pid] = true
		}
	})
	return pid, err
}

// close kills every adopted process, waits up to adoptedEnd for them to
// be reaped, then stops the loop and herd being a subreaper.
func (r *subreaper) close() {
	r.do(func() { r.closing = true })
	for deadline := time.Now().Add(adoptedEnd); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		left := 0
		r.do(func() { left = len(r.adopted) })
		if left == 0 {
			break
		}
	}
	close(r.quit)
	<-r.done
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
}

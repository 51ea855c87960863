package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/herdhq/herd/cluster"
)

// argWatchdog is the hidden first argument of herd's watchdog process.
const argWatchdog = "__watchdog"

// A worker dies with herd even when herd is killed with SIGKILL (the
// kernel's parent-death signal), but its own children do not: they are
// in the worker's process group, which herd kills only when it sees the
// worker exit. The watchdog, a second herd process started with the first
// worker, holds the list of the workers' process groups and kills what
// is left of them when herd's end of its pipe closes without the group
// having been removed first.
type watchdog struct {
	mu   sync.Mutex
	w    *os.File // the pipe: "+PGID" and "-PGID" lines
	cmd  *exec.Cmd
	done bool
}

// watchdogs holds each herd's watchdog, started on its first fork.
var watchdogs sync.Map // *herd → *watchdog

// watch tells the watchdog about worker process groups as workers start
// and exit. It runs on the cluster's loop, from onEvent.
func (h *herd) watch(e cluster.Event) {
	if e.Pid <= 0 || (e.Type != cluster.EventFork && e.Type != cluster.EventExit) {
		return
	}
	v, ok := watchdogs.Load(h)
	if !ok {
		if e.Type != cluster.EventFork {
			return
		}
		wd, err := startWatchdog(h.exe)
		if err != nil {
			h.log.Warn("no watchdog: the children of workers may outlive a SIGKILL of herd", "err", err)
			wd = &watchdog{done: true}
		}
		v, _ = watchdogs.LoadOrStore(h, wd)
	}
	sign := "+"
	if e.Type == cluster.EventExit {
		sign = "-"
	}
	v.(*watchdog).send(sign + strconv.Itoa(e.Pid) + "\n")
}

// stopWatchdog ends the watchdog once herd's workers are all gone.
func (h *herd) stopWatchdog() {
	if v, ok := watchdogs.LoadAndDelete(h); ok {
		v.(*watchdog).stop()
	}
}

func startWatchdog(exe string) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, argWatchdog)
	cmd.Stdin = r
	cmd.Dir = "/"
	// A process group of its own: a terminal's Ctrl-C or a kill of herd's
	// group does not reach it, and it cleans up after them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	return &watchdog{w: w, cmd: cmd}, nil
}

func (wd *watchdog) send(line string) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if !wd.done {
		wd.w.WriteString(line)
	}
}

func (wd *watchdog) stop() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.done {
		return
	}
	wd.done = true
	wd.w.WriteString("end\n") // a clean end: nothing to kill
	wd.w.Close()
	wd.cmd.Wait()
}

// runWatchdog is the watchdog process: it reads the process groups from
// stdin and, if stdin ends without "end" (herd died), kills them.
func runWatchdog() int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE)
	groups := map[int]bool{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		if line == "end" {
			return 0
		}
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		if line[0] == '+' {
			groups[pgid] = true
		} else {
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			fmt.Fprintf(os.Stderr, "herd watchdog: kill group %d: %v\n", pgid, err)
		}
	}
	return 0
}

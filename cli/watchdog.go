package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/proc"
)

// A worker dies with herd even when herd is killed with SIGKILL (the
// kernel's parent-death signal), but its own children do not: they are
// in the worker's process group (or, daemonised, in a session of their
// own), which herd kills only when it sees the worker exit. The
// watchdog, a second process started with the first worker, holds the
// cgroup of herd's workers (watchdog_cgroup.go) or the process groups
// of the workers and of what herd adopted from them
// (watchdog_subreaper.go), and kills what is left of them when herd's
// end of its pipe closes without the group having been removed first.
//
// The watchdog is watchdogScript, run by /bin/sh with builtins only: a
// shell waiting on read is ~1.7 MiB of memory where a second herd is
// ~10 MiB. Where there is no /bin/sh (a scratch or distroless image, a
// natural home for one static binary), herd runs itself as the watchdog
// (herd __watchdog, runWatchdog), which does the same.

// shell runs watchdogScript.
const shell = "/bin/sh"

// watchdogName is the watchdog script's $0 and last argument: ps, the
// benchmarks and the chaos tests tell the watchdog from a worker by it.
const watchdogName = "herd-watchdog"

// argWatchdog is the hidden first argument of herd's own watchdog, the
// fallback where /bin/sh cannot be started.
const argWatchdog = "__watchdog"

// watchdogScript reads "+PGID" (a worker's group), "-PGID" (gone),
// "/DIR" (the workers' cgroup) and "end" (herd's clean end: nothing to
// kill) lines on stdin, ignoring the signals a terminal or a kill of
// herd's group would send; when stdin ends without "end", it kills the
// cgroup (cgroup.kill), SIGKILLs the groups left, and removes the
// cgroup's directories once they are empty. Only builtins (dash, bash,
// busybox ash) until herd is gone: then the kill's subshell, rmdir and
// sleep. "kill -KILL -PGID" is the form all three
// take (dash and busybox refuse "kill -KILL -- -PGID"); a group of 0 or
// 1 is never read, so never "kill -KILL -1".
const watchdogScript = `trap '' INT TERM HUP QUIT TTIN TTOU PIPE
g=' '
c=''
while IFS= read -r l; do
	case $l in
	end) exit 0 ;;
	/*)
		c=$l
		continue
		;;
	[+-]*) p=${l#?} ;;
	*) continue ;;
	esac
	case $p in
	'' | *[!0-9]* | 0* | 1) continue ;;
	esac
	case $l in
	+*)
		case $g in
		*" $p "*) ;;
		*) g="$g$p " ;;
		esac
		;;
	*)
		n=' '
		for q in $g; do
			case $q in
			"$p") ;;
			*) n="$n$q " ;;
			esac
		done
		g=$n
		;;
	esac
done
if [ -n "$c" ] && [ -f "$c/cgroup.kill" ]; then
	echo 1 >"$c/cgroup.kill"
fi
for p in $g; do
	e=$(kill -KILL "-$p" 2>&1) || case $e in
	*'No such process'*) ;;
	*) printf 'herd watchdog: kill group %s: %s\n' "$p" "$e" >&2 ;;
	esac
done
i=0
while [ -n "$c" ] && [ -d "$c" ] && [ $i -lt 100 ]; do
	for d in "$c"/*/; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rmdir "$c" 2>/dev/null && break
	i=$((i + 1))
	sleep 0.1 2>/dev/null || sleep 1
done
`

// watchdog is herd's watchdog process and its pipe. The zero value is
// a watchdog not started yet; mu guards it, since watch runs on the
// cluster's loop, the subreaper on its own goroutine, and stopWatchdog
// after them.
type watchdog struct {
	mu     sync.Mutex
	tried  bool     // started on the first fork, or herd has ended
	w      *os.File // the pipe: "+PGID" and "-PGID" lines; nil once stopped or if it failed
	cmd    *exec.Cmd
	groups map[int]int // the process groups told, with how many reasons each has
	cgroup string      // the workers' cgroup, told first; "" for none
}

// watch tells the watchdog about worker process groups as workers start
// and exit, and the keeper of their descendants about the workers (by
// their key in h.keys). It runs on program's cluster loop, from onEvent.
func (h *herd) watch(program string, e cluster.Event) {
	if e.Pid <= 0 || (e.Type != cluster.EventFork && e.Type != cluster.EventExit) {
		return
	}
	if e.Type == cluster.EventFork {
		h.startWatchdog()
		h.wd.group(e.Pid, 1)
	} else {
		h.wd.group(e.Pid, -1)
	}
	if h.keeper != nil {
		e.WorkerID = h.keys.get(program, e.WorkerID, e.Type == cluster.EventExit)
		h.keeper.event(e, h.wd.pid())
	}
}

// startWatchdog starts the watchdog, once, before it is told anything.
func (h *herd) startWatchdog() {
	wd := &h.wd
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.tried {
		return
	}
	wd.tried = true
	var err error
	if wd.w, wd.cmd, err = startWatchdog(shell, h.exe, os.Stderr); err != nil {
		h.log.Warn("no watchdog: the descendants of workers may outlive a SIGKILL of herd", "err", err)
		return
	}
	if wd.cgroup != "" {
		wd.w.WriteString(wd.cgroup + "\n")
	}
}

// group adds n (1 or -1) reasons to kill process group pgid if herd
// dies: the watchdog is told "+PGID" at the first, "-PGID" after the
// last.
func (wd *watchdog) group(pgid, n int) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.groups == nil {
		wd.groups = map[int]int{}
	}
	was := wd.groups[pgid]
	now := max(was+n, 0)
	if now == 0 {
		delete(wd.groups, pgid)
	} else {
		wd.groups[pgid] = now
	}
	if wd.w != nil && (was == 0) != (now == 0) {
		sign := "+"
		if now == 0 {
			sign = "-"
		}
		wd.w.WriteString(sign + strconv.Itoa(pgid) + "\n")
	}
}

// pid is the watchdog's process id, or 0.
func (wd *watchdog) pid() int {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.cmd == nil {
		return 0
	}
	return wd.cmd.Process.Pid
}

// stopWatchdog kills what the workers left, then ends the watchdog:
// herd's workers are all gone.
func (h *herd) stopWatchdog() {
	if h.keeper != nil {
		h.keeper.close()
	}
	wd := &h.wd
	wd.mu.Lock()
	defer wd.mu.Unlock()
	wd.tried = true // none starts after this
	if wd.w == nil {
		return
	}
	wd.w.WriteString("end\n") // a clean end: nothing to kill
	wd.w.Close()
	wd.w = nil
	wd.cmd.Wait()
}

// startWatchdog starts watchdogScript with sh, or exe __watchdog if sh
// cannot be started, and returns the write end of its stdin. Its
// reports go to stderr.
func startWatchdog(sh, exe string, stderr io.Writer) (*os.File, *exec.Cmd, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	cmd := watchdogCommand(r, stderr, sh, "-c", watchdogScript, watchdogName)
	cmd.Env = []string{"LC_ALL=C"} // builtins only; kill's errors in English, for "No such process"
	if err = cmd.Start(); err != nil {
		cmd = watchdogCommand(r, stderr, exe, argWatchdog)
		err = cmd.Start()
	}
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, cmd, nil
}

// watchdogCommand is a watchdog process reading stdin.
func watchdogCommand(stdin *os.File, stderr io.Writer, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	cmd.Stderr = stderr
	cmd.Dir = "/"
	// A process group of its own: a terminal's Ctrl-C or a kill of herd's
	// group does not reach it, and it cleans up after them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// runWatchdog is herd's own watchdog process (herd __watchdog), the
// fallback for watchdogScript.
func runWatchdog() int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE)
	watchdogLoop(os.Stdin, os.Stderr)
	return 0
}

// watchdogLoop reads the process groups and the cgroup from r, as
// watchdogScript does, and, if r ends without "end" (herd died), kills
// them and removes the cgroup.
func watchdogLoop(r io.Reader, stderr io.Writer) {
	groups := map[int]bool{}
	var cg *proc.Cgroup
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "end":
			return
		case strings.HasPrefix(line, "/"):
			cg = &proc.Cgroup{Dir: line}
		case len(line) >= 2:
			readGroup(groups, line)
		}
	}
	if cg != nil {
		cg.Kill()
	}
	for pgid := range groups {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			fmt.Fprintf(stderr, "herd watchdog: kill group %d: %v\n", pgid, err)
		}
	}
	if cg != nil {
		cg.Remove(10 * time.Second)
	}
}

// readGroup applies a "+PGID" or "-PGID" line to groups.
func readGroup(groups map[int]bool, line string) {
	pgid, err := strconv.Atoi(line[1:])
	if err != nil || pgid <= 1 {
		return
	}
	switch line[0] {
	case '+':
		groups[pgid] = true
	case '-':
		delete(groups, pgid)
	}
}

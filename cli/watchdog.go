package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/herdhq/herd/cluster"
)

// A worker dies with herd even when herd is killed with SIGKILL (the
// kernel's parent-death signal), but its own children do not: they are
// in the worker's process group, which herd kills only when it sees the
// worker exit. The watchdog, a second process started with the first
// worker, holds the list of the workers' process groups and kills what
// is left of them when herd's end of its pipe closes without the group
// having been removed first.
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

// watchdogScript reads "+PGID" (a worker's group), "-PGID" (gone) and
// "end" (herd's clean end: nothing to kill) lines on stdin, ignoring the
// signals a terminal or a kill of herd's group would send; when stdin
// ends without "end", it SIGKILLs the groups left. Only builtins (dash,
// bash, busybox ash): nothing is started until herd is gone, and then
// only the kill's subshell. "kill -KILL -PGID" is the form all three
// take (dash and busybox refuse "kill -KILL -- -PGID"); a group of 0 or
// 1 is never read, so never "kill -KILL -1".
const watchdogScript = `trap '' INT TERM HUP QUIT TTIN TTOU PIPE
g=' '
while IFS= read -r l; do
	case $l in
	end) exit 0 ;;
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
for p in $g; do
	e=$(kill -KILL "-$p" 2>&1) || case $e in
	*'No such process'*) ;;
	*) printf 'herd watchdog: kill group %s: %s\n' "$p" "$e" >&2 ;;
	esac
done
`

// watchdog is herd's watchdog process and its pipe. The zero value is
// a watchdog not started yet; mu guards it, since watch runs on the
// cluster's loop and stopWatchdog after it.
type watchdog struct {
	mu    sync.Mutex
	tried bool     // started on the first fork, or herd has ended
	w     *os.File // the pipe: "+PGID" and "-PGID" lines; nil once stopped or if it failed
	cmd   *exec.Cmd
}

// watch tells the watchdog about worker process groups as workers start
// and exit. It runs on the cluster's loop, from onEvent.
func (h *herd) watch(e cluster.Event) {
	if e.Pid <= 0 || (e.Type != cluster.EventFork && e.Type != cluster.EventExit) {
		return
	}
	wd := &h.wd
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if !wd.tried {
		if e.Type != cluster.EventFork {
			return
		}
		wd.tried = true
		var err error
		if wd.w, wd.cmd, err = startWatchdog(shell, h.exe, os.Stderr); err != nil {
			h.log.Warn("no watchdog: the children of workers may outlive a SIGKILL of herd", "err", err)
		}
	}
	if wd.w == nil {
		return
	}
	sign := "+"
	if e.Type == cluster.EventExit {
		sign = "-"
	}
	wd.w.WriteString(sign + strconv.Itoa(e.Pid) + "\n")
}

// stopWatchdog ends the watchdog once herd's workers are all gone.
func (h *herd) stopWatchdog() {
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

// watchdogLoop reads the process groups from r, as watchdogScript does,
// and, if r ends without "end" (herd died), kills them.
func watchdogLoop(r io.Reader, stderr io.Writer) {
	groups := map[int]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "end" {
			return
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
			fmt.Fprintf(stderr, "herd watchdog: kill group %d: %v\n", pgid, err)
		}
	}
}

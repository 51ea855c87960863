package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/procstat"
)

// cpuTicks is a process's utime+stime in clock ticks (1/100 s), 0 when
// it is gone.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// sumTicks adds up cpuTicks over pids.
func sumTicks(pids []int) int64 {
	var n int64
	for _, p := range pids {
		n += cpuTicks(p)
	}
	return n
}

// statusKB reads a "Vm...:  N kB" field of /proc/PID/status, in bytes.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func rss(pid int) int64  { return statusKB(pid, "VmRSS") }
func peak(pid int) int64 { return statusKB(pid, "VmHWM") }

// children lists the live children of pid other than herd's watchdog.
func children(pid int) []int {
	return slices.DeleteFunc(procstat.Children(pid), isWatchdog)
}

// waitGone waits up to d for pid to exit.
func waitGone(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !procstat.Alive(pid) {
			return true
		}
	}
	return !procstat.Alive(pid)
}

// openSockets counts pid's TCP sockets on port, by state: sockets
// still held by a process after its clients went away are requests
// nobody answered.
func openSockets(pid, port int) (established, closeWait int) {
	inodes := map[string]bool{}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if err == nil && strings.HasPrefix(t, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(t, "socket:["), "]")] = true
		}
	}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || !inodes[fs[9]] {
				continue
			}
			_, lport, _ := strings.Cut(fs[1], ":")
			if p, _ := strconv.ParseInt(lport, 16, 32); int(p) != port {
				continue
			}
			switch fs[3] {
			case "01":
				established++
			case "08":
				closeWait++
			}
		}
		f.Close()
	}
	return
}

// killTree sends sig to pid and to its descendants.
func killTree(pid int, sig syscall.Signal) {
	for _, c := range children(pid) {
		killTree(c, sig)
	}
	syscall.Kill(pid, sig)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(l[strings.Index(l, ":")+1:])
		}
	}
	return "unknown"
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// watchdogOf returns the pid of herd's watchdog, a child of herd, or 0.
func watchdogOf(herd int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", herd))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil && isWatchdog(c) {
				return c
			}
		}
	}
	return 0
}

// isWatchdog reports whether pid is herd's watchdog process, a child of
// herd that is not a worker: /bin/sh -c SCRIPT herd-watchdog, or herd
// __watchdog where there is no /bin/sh (cli/watchdog.go).
func isWatchdog(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	return len(args) == 4 && args[1] == "-c" && args[3] == "herd-watchdog" ||
		len(args) == 2 && args[1] == "__watchdog"
}

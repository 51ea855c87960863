package procstat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Alive reports whether pid runs: it exists and is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// Children lists the live children of pid, forked by any of its threads.
func Children(pid int) []int {
	var out []int
	for _, c := range AllChildren(pid) {
		if Alive(c) {
			out = append(out, c)
		}
	}
	return out
}

// AllChildren lists the children of pid, zombies not yet reaped
// included: the processes pid forked and those it adopted as a
// subreaper.
func AllChildren(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// Stat is where a process stands in the process tree, from
// /proc/PID/stat.
type Stat struct {
	State byte // R, S, D, Z (zombie), ...
	PPid  int  // its parent
	Pgid  int  // its process group
	Sid   int  // its session
}

// ReadStat reads pid's state, parent, process group and session. It
// fails when the process is gone (os.ErrNotExist).
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("procstat: %w", err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp session ...
	if i < 0 || len(f) < 4 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("procstat: malformed stat line of %d", pid)
	}
	var st Stat
	st.State = f[0][0]
	st.PPid, _ = strconv.Atoi(f[1])
	st.Pgid, _ = strconv.Atoi(f[2])
	st.Sid, _ = strconv.Atoi(f[3])
	return st, nil
}

// Getenv returns the value of key in the environment pid was started
// with (/proc/PID/environ: what its exec got, not later changes), and
// whether it is there. It needs the right to read the process's memory
// map (the same user, or root): otherwise it reports false.
func Getenv(pid int, key string) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return "", false
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(key+"=")); ok {
			return string(v), true
		}
	}
	return "", false
}

// Package procstat reads a process's resident memory and CPU time from
// Linux's /proc/PID/stat, for herd's status, metrics and memory limit.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for user
// space whatever its own HZ).
const clockTicks = 100

// Sample is what a process used so far.
type Sample struct {
	RSS int64         // resident memory in bytes
	CPU time.Duration // user plus system CPU time
}

// Read returns pid's resident memory and CPU time. It fails when the
// process is gone (os.ErrNotExist) or /proc cannot be read.
func Read(pid int) (Sample, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Sample{}, fmt.Errorf("procstat: %w", err)
	}
	return parse(string(b))
}

// The fields of /proc/PID/stat after the command, counted from 0 at the
// state (field 3 of proc(5)).
const (
	fieldUtime = 11 // utime, field 14
	fieldStime = 12 // stime, field 15
	fieldRSS   = 21 // rss in pages, field 24
)

// parse reads a /proc/PID/stat line. The command, in parentheses, may
// hold spaces and parentheses: the fields start after the last ')'.
func parse(s string) (Sample, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Sample{}, errors.New("procstat: malformed stat line")
	}
	f := strings.Fields(s[i+1:])
	if len(f) <= fieldRSS {
		return Sample{}, errors.New("procstat: short stat line")
	}
	utime, err1 := strconv.ParseInt(f[fieldUtime], 10, 64)
	stime, err2 := strconv.ParseInt(f[fieldStime], 10, 64)
	pages, err3 := strconv.ParseInt(f[fieldRSS], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Sample{}, fmt.Errorf("procstat: %w", err)
	}
	return Sample{
		RSS: pages * int64(os.Getpagesize()),
		CPU: time.Duration(utime+stime) * time.Second / clockTicks,
	}, nil
}

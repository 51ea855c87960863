//go:build !linux

package proc

import (
	"errors"
	"syscall"
)

// Outside Linux there is no parent-death signal: a child started with
// Cmd.Pdeathsig learns of its parent's death when its end of the channel
// closes (herd's Go library and Node's cluster workers exit then), and
// herd's watchdog kills the process groups of the rest (cli/watchdog.go).

// setPdeathsig does nothing: the kernel has no parent-death signal here.
func setPdeathsig(*syscall.SysProcAttr, syscall.Signal) {}

// pdeathsig returns 0: the kernel has no parent-death signal here.
func pdeathsig(*syscall.SysProcAttr) syscall.Signal { return 0 }

// errNoCgroup is Start's error for a Cmd with a Cgroup outside Linux.
var errNoCgroup = errors.New("cgroups are Linux-only")

// intoCgroup fails: cgroups are Linux's.
func intoCgroup(*syscall.SysProcAttr, int) error { return errNoCgroup }

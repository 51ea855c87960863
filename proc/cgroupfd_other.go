//go:build !linux

package proc

import (
	"errors"
	"syscall"
)

// errNoCgroup is Start's error for a Cmd with a Cgroup outside Linux.
var errNoCgroup = errors.New("cgroups are Linux-only")

// intoCgroup fails: cgroups are Linux's.
func intoCgroup(*syscall.SysProcAttr, int) error { return errNoCgroup }

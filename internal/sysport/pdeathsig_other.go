//go:build !linux

package sysport

import "syscall"

// SetPdeathsig reports false: only Linux has a parent-death signal. A
// child learns of its parent's death otherwise (a pipe or socket from
// the parent that closes).
func SetPdeathsig(*syscall.SysProcAttr, syscall.Signal) bool { return false }

// Pdeathsig returns 0: only Linux has a parent-death signal.
func Pdeathsig(*syscall.SysProcAttr) syscall.Signal { return 0 }

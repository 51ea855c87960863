package sysport

import "syscall"

// SetPdeathsig asks the kernel to send sig to the child a starts when
// the thread that forked it exits (Linux's PR_SET_PDEATHSIG: see
// proc.Cmd.Pdeathsig for the thread), and reports whether it can: here,
// true.
func SetPdeathsig(a *syscall.SysProcAttr, sig syscall.Signal) bool {
	a.Pdeathsig = sig
	return true
}

// Pdeathsig returns the parent-death signal a asks for, 0 for none.
func Pdeathsig(a *syscall.SysProcAttr) syscall.Signal { return a.Pdeathsig }

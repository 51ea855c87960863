package proc

import "syscall"

// setPdeathsig makes the kernel send sig to the child when the thread
// that forked it exits (Linux's PR_SET_PDEATHSIG).
func setPdeathsig(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }

// pdeathsig returns the parent-death signal a asks for, 0 for none.
func pdeathsig(a *syscall.SysProcAttr) syscall.Signal { return a.Pdeathsig }

// intoCgroup makes the child start in the cgroup whose directory is open
// as fd (clone3 with CLONE_INTO_CGROUP).
func intoCgroup(a *syscall.SysProcAttr, fd int) error {
	a.UseCgroupFD, a.CgroupFD = true, fd
	return nil
}

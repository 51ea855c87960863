package proc

import "syscall"

// intoCgroup makes the child start in the cgroup whose directory is open
// as fd (clone3 with CLONE_INTO_CGROUP).
func intoCgroup(a *syscall.SysProcAttr, fd int) error {
	a.UseCgroupFD, a.CgroupFD = true, fd
	return nil
}

//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/proc"
)

// TestWatchdogCgroup: told the workers' cgroup, the watchdog kills what
// is in it when herd dies, and removes it.
func TestWatchdogCgroup(t *testing.T) {
	for _, impl := range []struct {
		name  string
		start func(*testing.T) *testWatchdog
	}{{"script", startScript}, {"herd", startLoop}} {
		t.Run(impl.name, func(t *testing.T) {
			g, sleeper := cgroupWithSleeper(t)
			wd := impl.start(t)
			wd.send(t, g.Dir)
			wd.w.Close()
			wd.waitEnd(t)
			select {
			case err := <-sleeper:
				sleeper <- err // for the cleanup
			case <-time.After(10 * time.Second):
				t.Fatal("the process in the cgroup still runs")
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(g.Dir); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the cgroup %s is still there", g.Dir)
				}
			}
		})
	}
}

// cgroupWithSleeper makes a cgroup with a child cgroup holding a sleep,
// or skips the test where none can be made.
func cgroupWithSleeper(t *testing.T) (proc.Cgroup, chan error) {
	t.Helper()
	own, err := proc.OwnCgroup()
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	g, err := proc.MakeCgroup(filepath.Join(own, "herd-clitest-"+strconv.Itoa(os.Getpid())))
	if err != nil {
		t.Skipf("cannot create a cgroup v2 here: %v", err)
	}
	t.Cleanup(func() { g.Remove(10 * time.Second) })
	sub, err := g.Sub("w1")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(sub.Dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return g, done
}

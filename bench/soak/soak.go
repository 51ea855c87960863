package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/sysport"
)

// command is exec.Command (a seam for the build step).
func command(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

// soak runs herd under load for s.duration and measures its primary.
func soak(ctx context.Context, s settings, dir string) (*result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctl := filepath.Join(dir, "c.sock")
	perWorker := int(float64(s.messages)/s.duration.Seconds()/float64(s.workers)*1.25) + 1
	cmd := exec.Command(s.herd, "run", "--control", ctl, "-n", strconv.Itoa(s.workers), "-l", "127.0.0.1:0",
		"--metrics", "127.0.0.1:0", "--log-file", filepath.Join(dir, "log", "herd.log"), "--log-max-size", "1MB",
		"--log-max-files", "3", "--max-restarts", "-1", "--restart-window", "1s", "--kill-timeout", "5s",
		"--max-memory", "1GB", "--heartbeat-timeout", "30s", "--", self)
	cmd.Env = append(os.Environ(), envWorker+"=1", envRate+"="+strconv.Itoa(perWorker), envDir+"="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	sysport.SetPdeathsig(cmd.SysProcAttr, syscall.SIGKILL)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer stopHerd(cmd)
	st, err := waitUp(ctx, ctl, s.workers)
	if err != nil {
		return nil, err
	}
	log.Printf("herd pid %d up: %d workers on %s, metrics on %s, %d messages/s per worker", st.Pid, s.workers,
		st.Listen[0], st.Metrics, perWorker)
	d := &driver{s: s, dir: dir, ctl: ctl, url: "http://" + st.Listen[0] + "/", metrics: "http://" + st.Metrics + "/metrics", pid: st.Pid}
	return d.run(ctx)
}

// waitUp waits until herd answers with n ready workers.
func waitUp(ctx context.Context, ctl string, n int) (*control.Status, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := control.Call(ctx, ctl, control.Request{Cmd: control.CmdStatus})
		if err == nil && len(resp.Status.Workers) == n && resp.Status.Metrics != "" && len(resp.Status.Listen) > 0 {
			ready := 0
			for _, w := range resp.Status.Workers {
				if w.State == "ready" {
					ready++
				}
			}
			if ready == n {
				return resp.Status, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("soak: herd did not come up with %d ready workers", n)
}

// stopHerd stops herd gracefully, or kills it.
func stopHerd(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
	}
}

// driver loads herd and samples it.
type driver struct {
	s       settings
	dir     string // where hostile tokens are left for the workers
	ctl     string
	url     string
	metrics string
	pid     int

	warmMetrics map[string]float64 // the primary's metrics after the warm-up (sampleLoop's)

	mu       sync.Mutex
	samples  []sample
	requests int
	failed   int
	reloads  int
	crashes  int
	hostiles []string // the attacks made, in order
}

// run drives herd for the duration and returns the measures.
func (d *driver) run(ctx context.Context) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.s.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){d.traffic, d.crashLoop, d.reloadLoop, d.scrapeLoop, d.hostileLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	d.sampleLoop(ctx, start)
	wg.Wait()
	return d.result()
}

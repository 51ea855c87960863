// Package testutil is shared by herd's tests: helper processes made by
// re-executing the test binary (as os/exec's and tableflip's tests do),
// and leak checks for file descriptors and goroutines.
package testutil

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// EnvHelper names the helper a re-executed test binary should run.
const EnvHelper = "HERD_TEST_HELPER"

// Helpers maps helper names to their bodies. A helper runs instead of the
// tests in a child process and exits 0 when it returns.
type Helpers map[string]func()

// Main runs the helper named in EnvHelper, if any; otherwise it runs the
// tests and then checks that no goroutine leaked.
func Main(m *testing.M, helpers Helpers) {
	if name := os.Getenv(EnvHelper); name != "" {
		f, ok := helpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "testutil: unknown helper %q\n", name)
			os.Exit(2)
		}
		os.Unsetenv(EnvHelper)
		f()
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if err := FindLeaks(lifetimeGoroutines...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: errors on a successful test run:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// lifetimeGoroutines are goroutines that live as long as the process by
// design: cluster.Stopping's signal watcher outside a cluster (started by
// cluster.Serve in a program run alone, as the examples run).
var lifetimeGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/herdhq/herd/cluster.watchStopSignals"),
}

// leakWait is how long FindLeaks gives goroutines to finish: goleak's own
// retries last under half a second, short on a busy machine for a
// goroutine that is on its way out (a process waiter, a closing conn).
const leakWait = 20 * time.Second

// FindLeaks is goleak.Find, retried for up to leakWait while it finds
// goroutines.
func FindLeaks(options ...goleak.Option) error {
	deadline := time.Now().Add(leakWait)
	for {
		err := goleak.Find(options...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// HelperEnv returns this process's environment plus the variable that
// makes a re-executed test binary run the helper name.
func HelperEnv(name string, extra ...string) []string {
	return append(append(os.Environ(), EnvHelper+"="+name), extra...)
}

// FDs lists this process's open file descriptors with what they point at.
func FDs() map[string]string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(ents))
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out[e.Name()] = target
	}
	return out
}

// CheckFDs records the open descriptors now and, when the test ends, fails
// it if more are open than before (waiting a little for asynchronous
// closes). Call it first in a test, before anything opens descriptors.
func CheckFDs(t testing.TB) {
	t.Helper()
	initPoller()
	before := FDs()
	t.Cleanup(func() {
		var extra []string
		deadline := time.Now().Add(20 * time.Second) // a busy machine is slow, not leaking
		for {
			extra = extra[:0]
			for fd, target := range FDs() {
				if _, ok := before[fd]; !ok {
					extra = append(extra, fd+" -> "+target)
				}
			}
			extra = dropSelf(extra)
			if len(extra) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			t.Errorf("leaked %d file descriptors: %s", len(extra), strings.Join(extra, ", "))
		}
	})
}

// initPoller makes the Go runtime open its network poller's descriptors
// (an epoll and an eventfd, kept for the life of the process), which it
// does on first use: a test that runs first would otherwise count them as
// leaked.
func initPoller() {
	r, w, err := os.Pipe() // pipes are registered with the poller
	if err == nil {
		r.Close()
		w.Close()
	}
}

// dropSelf removes the descriptor of the /proc/self/fd listing itself.
func dropSelf(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if !strings.Contains(s, "/proc/") || !strings.HasSuffix(s, "/fd") {
			out = append(out, s)
		}
	}
	return out
}

// CheckGoroutines fails the test if, when it ends, goroutines run that did
// not run when CheckGoroutines was called (waiting a little for them to
// finish). Call it first in a test, so that its check runs after the
// test's other cleanups.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := FindLeaks(ignore); err != nil {
			t.Error(err)
		}
	})
}

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
	goleak.VerifyTestMain(m)
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
	before := FDs()
	t.Cleanup(func() {
		var extra []string
		deadline := time.Now().Add(5 * time.Second)
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
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

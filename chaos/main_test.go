//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// herdBin is the herd binary under test, built by TestMain.
var herdBin string

// TestMain builds herd, runs the tests and checks for leaked goroutines.
// Re-executed as a worker, the test binary runs a helper instead.
func TestMain(m *testing.M) {
	if os.Getenv(testutil.EnvHelper) != "" {
		testutil.Main(m, testutil.Helpers{
			"worker":  helperWorker,
			"crash":   helperCrash,
			"sleeper": helperSleeper,
		})
		return
	}
	bin, remove, err := testutil.BuildHerd(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	herdBin = bin
	code := m.Run()
	remove()
	if code == 0 {
		if err := testutil.FindLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// short is set for CI: shorter phases, same checks.
var short = os.Getenv("HERD_CHAOS_SHORT") != "" && os.Getenv("HERD_CHAOS_SHORT") != "0"

// pick returns the full or the short setting.
func pick[T any](full, shortV T) T {
	if short {
		return shortV
	}
	return full
}

// report logs a figure and appends it to HERD_CHAOS_REPORT, if set.
func report(t *testing.T, format string, a ...any) {
	t.Helper()
	line := fmt.Sprintf(format, a...)
	t.Log(line)
	if path := os.Getenv("HERD_CHAOS_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "- %s: %s\n", t.Name(), strings.ReplaceAll(line, "\n", " "))
			f.Close()
		}
	}
}

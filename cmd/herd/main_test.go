package main_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// herdBin is the herd binary the tests drive, built once by TestMain.
var herdBin string

// TestMain builds herd into a temporary directory that every user can
// enter (the control socket test runs it as nobody), runs the tests, and
// checks that no goroutine leaked. Re-executed as a worker, the test
// binary runs a helper instead.
func TestMain(m *testing.M) {
	if os.Getenv(testutil.EnvHelper) != "" {
		testutil.Main(m, testutil.Helpers{
			"goworker":   helperGoWorker,
			"activation": helperActivation,
			"flood":      helperFlood,
			"bloat":      helperBloat,
			"spin":       helperSpin,
			"state":      helperState,
			"statekv":    helperStateKV,
			"hostile":    helperHostile,
			"endless":    helperEndless,
			"whereami":   helperWhereAmI,
		})
		return
	}
	// HERD_E2E_RACE=1 go test ./cmd/herd: herd itself under the race detector.
	bin, remove, err := testutil.BuildHerd(os.Getenv("HERD_E2E_RACE") != "")
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

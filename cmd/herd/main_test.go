package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
	"go.uber.org/goleak"
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
		})
		return
	}
	dir, err := buildHerd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	herdBin = filepath.Join(dir, "herd")
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func buildHerd() (string, error) {
	dir, err := os.MkdirTemp("", "herd-e2e-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	args := []string{"build", "-o", filepath.Join(dir, "herd")}
	if os.Getenv("HERD_E2E_RACE") != "" { // HERD_E2E_RACE=1 go test ./cmd/herd: herd itself under the race detector
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/herdhq/herd/cmd/herd")...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
}

package main_test

import (
	"os"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// testBinary is this test binary, which herd runs as a worker helper.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestGoActivation runs a plain Go program that takes its socket with
// go-systemd's activation package, as it would under systemd.
func TestGoActivation(t *testing.T) {
	testutil.CheckFDs(t)
	h := startHerd(t, []string{testutil.EnvHelper + "=activation"},
		"-n", "2", "--name", "api", "-l", "tcp://127.0.0.1:0", "--", testBinary(t))
	st := h.waitWorkers(2)
	f := strings.Fields(mustGet(t, url(t, st)))
	if len(f) != 3 || f[0] != "activation" || f[2] != "api" {
		t.Fatalf("answer %q, want activation PID api", f)
	}
}

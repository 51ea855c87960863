package main_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// TestDemo: herd demo starts hello workers, tells where they are, they
// answer, and herd stop ends it with status 0.
func TestDemo(t *testing.T) {
	testutil.CheckFDs(t)
	ctl := controlPath(t)
	h := startCmd(t, ctl, nil, "demo", "-n", "2", "--listen", "127.0.0.1:0", "--control", ctl)
	h.stdout.WaitFor(t, "Try, in another terminal:")
	m := regexp.MustCompile(`serve (http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(h.stdout.String())
	if m == nil {
		t.Fatalf("the demo's printout has no address:\n%s", h.stdout)
	}
	for _, want := range []string{"curl", "status", "kill -9", "reload"} {
		if !strings.Contains(h.stdout.String(), want) {
			t.Errorf("the demo's printout does not mention %s:\n%s", want, h.stdout)
		}
	}
	for i := 0; i < 2; i++ {
		if body := mustGet(t, m[1]); !strings.HasPrefix(body, "hello from worker ") {
			t.Fatalf("the demo answered %q", body)
		}
	}
	h.status() // records the workers, checked gone at cleanup
	if _, errOut, code := h.herdCtl("stop"); code != 0 {
		t.Fatalf("herd stop: exit %d: %s", code, errOut)
	}
	if code := h.wait(liveness); code != 0 {
		t.Fatalf("herd demo exited with %d after a stop", code)
	}
}

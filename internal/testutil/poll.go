package testutil

import (
	"testing"
	"time"
)

// Generous bounds for a busy machine: tests wait for things to happen,
// they never time them.
const (
	// Liveness is how long a test waits for what must happen: a herd
	// starts, its workers become ready, a process exits.
	Liveness = 60 * time.Second
	// PollEvery is how often Eventually checks its condition.
	PollEvery = 20 * time.Millisecond
)

// Until checks cond every period until it holds (true) or d has passed
// (false, after a last check).
func Until(d, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(every)
	}
	return true
}

// Eventually waits until cond holds, checking it every PollEvery, and
// fails t with "timed out waiting for WHAT" after Liveness.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Poll(t, PollEvery, what, cond)
}

// Poll is Eventually checking cond every period: for a condition that is
// costly to check (one that runs a process or asks herd over its control
// socket).
func Poll(t testing.TB, every time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(Liveness, every, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

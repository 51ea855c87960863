package testutil

import "testing"

// SkipIfShort skips a multi-second scenario under go test -short (the
// fast loop); the full run has it. why says what the scenario is.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s: the full run has it (-short)", why)
	}
}

// FirstIfShort is s whole, or its first element only under go test
// -short: a test that runs once per policy runs one in the fast loop.
func FirstIfShort[S ~[]E, E any](s S) S {
	if testing.Short() && len(s) > 1 {
		return s[:1]
	}
	return s
}

// SkipIfRace skips a test under the race detector, which makes every
// process several times slower and bigger: for a test that bounds memory
// or waits on a deadline herd applies to a slow worker. why says so.
func SkipIfRace(t testing.TB, why string) {
	t.Helper()
	if Race {
		t.Skipf("%s: not under -race", why)
	}
}

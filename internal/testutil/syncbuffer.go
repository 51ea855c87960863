package testutil

import (
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/syncio"
)

// SyncBuffer collects a child's output: a writer (its output copier) and
// concurrent readers may share it. The zero value is empty and ready.
type SyncBuffer struct{ syncio.Writer }

// WaitFor waits until the buffer holds substr, failing t after Liveness.
func (s *SyncBuffer) WaitFor(t testing.TB, substr string) {
	t.Helper()
	if !Until(Liveness, PollEvery, func() bool { return strings.Contains(s.String(), substr) }) {
		t.Fatalf("no %q in:\n%s", substr, s)
	}
}

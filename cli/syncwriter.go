package cli

import (
	"io"
	"sync"
)

// syncWriter serializes writes, so that lines from workers and herd's
// own log lines never interleave.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

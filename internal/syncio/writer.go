// Package syncio has the one io.Writer that herd shares between
// goroutines: writes are serialized, so that lines written at once by
// workers' output copiers and herd's own log never interleave.
package syncio

import (
	"bytes"
	"io"
	"sync"
)

// Writer serializes writes to its destination. The zero value writes to
// an in-memory buffer, which String returns (tests collect a child's
// output in one); NewWriter makes one that writes elsewhere.
type Writer struct {
	mu  sync.Mutex
	dst io.Writer // nil: buf
	buf bytes.Buffer
}

// NewWriter returns a Writer that passes each Write to dst whole, one at
// a time.
func NewWriter(dst io.Writer) *Writer { return &Writer{dst: dst} }

// Write writes p to the destination while no other Write runs.
func (s *Writer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dst == nil {
		return s.buf.Write(p)
	}
	return s.dst.Write(p)
}

// String returns everything written so far to a zero Writer's buffer
// (empty for one made by NewWriter).
func (s *Writer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

package ipc

import "testing"

// After a long line is handled, the reader goes back to a first-size
// buffer, keeping the bytes not yet parsed.
func TestReaderShrinksAfterLongLine(t *testing.T) {
	r := &reader{buf: make([]byte, 4<<20)}
	copy(r.buf[3<<20:], "tail")
	r.start, r.end = 3<<20, 3<<20+4
	r.shrink()
	if len(r.buf) != readChunk || string(r.buf[r.start:r.end]) != "tail" {
		t.Fatalf("buffer of %d bytes holding %q, want %d holding \"tail\"", len(r.buf), r.buf[r.start:r.end], readChunk)
	}
	r.buf = make([]byte, 4<<20)
	r.start, r.end = 0, 2<<20 // a long line still coming: kept
	r.shrink()
	if len(r.buf) != 4<<20 {
		t.Fatalf("shrank a buffer holding %d unparsed bytes", r.end-r.start)
	}
}

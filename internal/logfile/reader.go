package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// pollEvery is how often Tail looks for new lines when following.
const pollEvery = 200 * time.Millisecond

// Tail calls emit with each line of the log (without its newline), oldest
// file first, then caughtUp. If follow, it then waits for new lines,
// through rotations, until ctx is done (returning nil). A line still being
// written is held until its newline.
func Tail(ctx context.Context, path string, follow bool, emit func([]byte), caughtUp func()) error {
	files := Files(path)
	if len(files) == 0 && !follow {
		return fmt.Errorf("logfile: no log at %s: %w", path, os.ErrNotExist)
	}
	for _, name := range files {
		if name == path {
			break
		}
		if err := readFile(name, emit); err != nil {
			return err
		}
	}
	cur := &follower{path: path, emit: emit}
	defer cur.close()
	if err := cur.reopen(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	cur.drain()
	caughtUp()
	if !follow {
		cur.flush()
		return nil
	}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			cur.poll()
		}
	}
}

// readFile emits every line of a file.
func readFile(name string, emit func([]byte)) error {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil // rotated away meanwhile
	}
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	defer f.Close()
	lr := &lineReader{r: f, emit: emit}
	lr.drain()
	lr.flush()
	return nil
}

// follower reads the current file as it grows, and moves on to the new
// one when it is rotated.
type follower struct {
	path string
	emit func([]byte)
	f    *os.File
	lr   *lineReader
}

// reopen opens the current file from its start.
func (c *follower) reopen() error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	c.close()
	c.f, c.lr = f, &lineReader{r: f, emit: c.emit}
	return nil
}

func (c *follower) drain() {
	if c.lr != nil {
		c.lr.drain()
	}
}

func (c *follower) flush() {
	if c.lr != nil {
		c.lr.flush()
	}
}

// poll reads what was appended; if the file was rotated, it finishes
// the old one and starts on the new.
func (c *follower) poll() {
	c.drain()
	if c.f != nil && sameFile(c.f, c.path) {
		return
	}
	c.flush()
	if c.reopen() == nil {
		c.drain()
	}
}

func (c *follower) close() {
	if c.f != nil {
		c.f.Close()
		c.f, c.lr = nil, nil
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// lineReader splits what it reads into lines, keeping a partial last
// line for later.
type lineReader struct {
	r       io.Reader
	emit    func([]byte)
	partial []byte
	buf     [64 << 10]byte
}

// drain reads until EOF.
func (l *lineReader) drain() {
	for {
		n, err := l.r.Read(l.buf[:])
		data := l.buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				l.partial = append(l.partial, data...)
				break
			}
			l.line(data[:i])
			data = data[i+1:]
		}
		if err != nil || n == 0 {
			return
		}
	}
}

func (l *lineReader) line(b []byte) {
	if len(l.partial) > 0 {
		b = append(l.partial, b...)
		l.partial = l.partial[:0]
	}
	l.emit(b)
}

// flush emits a last line that has no newline.
func (l *lineReader) flush() {
	if len(l.partial) > 0 {
		l.emit(l.partial)
		l.partial = nil
	}
}

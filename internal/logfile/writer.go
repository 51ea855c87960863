// Package logfile is herd's log file: appended to, rotated by size, and
// never more than a fixed number of files, so that a chatty worker cannot
// fill a disk. PATH grows to the size limit, then becomes PATH.1 (PATH.1
// becomes PATH.2, and so on), and the oldest file past the count is
// removed.
package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Writer appends to a rotated log file. It is safe for concurrent use;
// each Write lands whole in one file unless it is larger than the size
// limit itself.
type Writer struct {
	path     string
	maxSize  int64
	maxFiles int

	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
}

// Open opens path for appending (making its directory if missing),
// keeping each file at most maxSize bytes and at most maxFiles files (path
// itself and path.1 … path.N-1). Rotated files beyond maxFiles, left by an
// earlier run, are removed.
func Open(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxSize < 1 || maxFiles < 1 {
		return nil, fmt.Errorf("logfile: want a positive size and count, got %d bytes and %d files", maxSize, maxFiles)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	w := &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := w.open(); err != nil {
		return nil, err
	}
	for _, n := range rotated(path) {
		if n >= maxFiles {
			os.Remove(numbered(path, n))
		}
	}
	return w, nil
}

// Path is the file written to.
func (w *Writer) Path() string { return w.path }

// open opens (or creates) the current file. w.mu is held, or w is new.
func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logfile: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Write appends b, rotating first if b would not fit; a b larger than
// the limit is split over files.
func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("logfile: %w", os.ErrClosed)
	}
	n := 0
	for len(b) > 0 {
		if w.f == nil {
			if err := w.open(); err != nil {
				return n, err
			}
		}
		chunk := b
		if room := w.maxSize - w.size; int64(len(chunk)) > room {
			if w.size > 0 {
				if err := w.rotate(); err != nil {
					return n, err
				}
				continue
			}
			chunk = chunk[:w.maxSize]
		}
		k, err := w.f.Write(chunk)
		n, w.size, b = n+k, w.size+int64(k), b[k:]
		if err != nil {
			return n, fmt.Errorf("logfile: %w", err)
		}
	}
	return n, nil
}

// rotate shifts the files by one, drops the oldest, and starts a new
// current file. w.mu is held.
func (w *Writer) rotate() error {
	err := w.f.Close()
	w.f = nil
	if w.maxFiles == 1 {
		err = errors.Join(err, ignoreMissing(os.Remove(w.path)))
	} else {
		err = errors.Join(err, ignoreMissing(os.Remove(numbered(w.path, w.maxFiles-1))))
		for n := w.maxFiles - 2; n >= 1; n-- {
			err = errors.Join(err, ignoreMissing(os.Rename(numbered(w.path, n), numbered(w.path, n+1))))
		}
		err = errors.Join(err, ignoreMissing(os.Rename(w.path, numbered(w.path, 1))))
	}
	if oerr := w.open(); oerr != nil {
		return errors.Join(err, oerr)
	}
	if err != nil {
		return fmt.Errorf("logfile: rotate: %w", err)
	}
	return nil
}

// Close closes the current file; later writes fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// numbered is the name of rotated file n.
func numbered(path string, n int) string { return path + "." + strconv.Itoa(n) }

// rotated lists the numbers of path's rotated files, in increasing order.
func rotated(path string) []int {
	matches, _ := filepath.Glob(globEscape(path) + ".*")
	var ns []int
	for _, m := range matches {
		n, err := strconv.Atoi(strings.TrimPrefix(m, path+"."))
		if err == nil && n > 0 {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns
}

// globEscape quotes the glob characters of a path.
func globEscape(path string) string {
	var b strings.Builder
	for _, r := range path {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Files lists the log's files that exist, oldest first: path.N … path.1,
// then path.
func Files(path string) []string {
	ns := rotated(path)
	out := make([]string, 0, len(ns)+1)
	for i := len(ns) - 1; i >= 0; i-- {
		out = append(out, numbered(path, ns[i]))
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out
}

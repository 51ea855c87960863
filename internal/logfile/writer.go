// Package logfile is herd's log file: appended to, rotated by size, and
// never more than a fixed number of files, so that a chatty worker cannot
// fill a disk. PATH grows to the size limit, then becomes PATH.1 (PATH.1
// becomes PATH.2, and so on), and the oldest file past the count is
// removed.
//
// PATH is never opened through a symbolic link, nor when it is not a
// regular file. A Writer does not give up: a failed write is counted and
// reported (at most every 10 s), the file is opened again at the next
// write (at most once a second while that fails), and a PATH deleted or
// moved away by someone else is made anew within a second.
package logfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Writer appends to a rotated log file. It is safe for concurrent use;
// each Write lands whole in one file unless it is larger than the size
// limit itself.
type Writer struct {
	// Errors, if set before the first Write, gets a line when writes fail
	// (at most every 10 s, with the bytes and writes lost), and when they
	// work again.
	Errors io.Writer

	path     string
	maxSize  int64
	maxFiles int

	mu      sync.Mutex
	f       *os.File // nil after a failure, until opened again
	size    int64
	closed  bool
	checked time.Time // when f was last checked to be path, or opened
	failure error     // why f is nil
	lost    losses
}

// checkEvery is how often, at most, a Writer checks that path is still
// the file it writes to, or tries again to open it.
const checkEvery = time.Second

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
	w := &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles, lost: losses{every: lossReportEvery}}
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

// open opens (or creates) the current file, neither through a symbolic
// link nor when it is not a regular file (O_NONBLOCK: a FIFO without a
// reader fails rather than blocks). w.mu is held, or w is new.
func (w *Writer) open() error {
	w.checked = time.Now()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o640)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("logfile: %s is a symbolic link: refusing to follow it (remove it, or give the real path)", w.path)
	}
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", w.path, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("logfile: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// ready makes w.f the file at path: at most once per checkEvery, it
// opens it again after a failure, and reopens it if path no longer names
// it (deleted, moved away, replaced). w.mu is held.
func (w *Writer) ready(now time.Time) error {
	if now.Sub(w.checked) < checkEvery {
		if w.f == nil {
			return w.failure
		}
		return nil
	}
	if w.f != nil && w.isCurrent() {
		w.checked = now
		return nil
	}
	w.drop(nil)
	if err := w.open(); err != nil {
		w.drop(err)
		return err
	}
	return nil
}

// isCurrent reports whether path still names w.f.
func (w *Writer) isCurrent() bool {
	fi, err := os.Lstat(w.path)
	if err != nil {
		return false
	}
	ofi, err := w.f.Stat()
	return err == nil && os.SameFile(fi, ofi)
}

// drop closes w.f, so that a write opens path again, and keeps err as
// the reason to give until then. w.mu is held.
func (w *Writer) drop(err error) {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	w.failure = err
}

// Write appends b, rotating first if b would not fit; a b larger than
// the limit is split over files. What a failed write lost is counted and
// reported on Errors.
func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("logfile: %w", os.ErrClosed)
	}
	now := time.Now()
	n, err := w.write(b, now)
	if err != nil {
		w.lost.failed(w.Errors, len(b)-n, err, now)
	} else {
		w.lost.ok(w.Errors, w.path, now)
	}
	return n, err
}

// write appends b. w.mu is held.
func (w *Writer) write(b []byte, now time.Time) (int, error) {
	if err := w.ready(now); err != nil {
		return 0, err
	}
	n := 0
	for len(b) > 0 {
		chunk := b
		if room := w.maxSize - w.size; int64(len(chunk)) > room {
			if w.size > 0 {
				if err := w.rotate(); err != nil {
					w.drop(err) // tried again within checkEvery, not at every write
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

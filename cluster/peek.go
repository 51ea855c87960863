package cluster

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// errPeekFull is a connection whose first identifyMaxBytes bytes did not
// finish its identification.
var errPeekFull = errors.New("cluster: identification bound reached")

// peekConn shows step the bytes waiting on the connection fd, without
// consuming them, each time more arrive, until step is done, the peer
// closes, identifyMaxBytes wait, or deadline passes. step says how many
// bytes to consume first (they are read and dropped). fd stays open and
// the caller's; a duplicate waits in Go's poller, so no thread blocks.
func peekConn(fd int, deadline time.Time, step func([]byte) (int, bool)) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), "peek")
	defer f.Close()
	if err := f.SetReadDeadline(deadline); err != nil {
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, identifyMaxBytes)
	var perr error
	err = rc.Read(func(s uintptr) bool {
		done, e := peekStep(int(s), buf, step)
		perr = e
		return done
	})
	return errors.Join(err, perr)
}

// peekStep peeks and consumes until step is done or more bytes are
// needed; it reports whether peeking is over.
func peekStep(fd int, buf []byte, step func([]byte) (int, bool)) (bool, error) {
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_PEEK)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, nil
		case err != nil:
			return true, err
		case n == 0:
			return true, os.ErrClosed
		}
		consume, done := step(buf[:n])
		if consume > 0 {
			if _, err := unix.Read(fd, buf[:consume]); err != nil {
				return true, err
			}
		}
		if done {
			return true, nil
		}
		if consume == 0 {
			if n == len(buf) {
				return true, errPeekFull
			}
			return false, nil
		}
	}
}

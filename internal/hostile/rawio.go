package hostile

import (
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// write writes all of b, retrying EAGAIN, until an error or the deadline.
func write(fd int, b []byte, deadline time.Time) bool {
	for len(b) > 0 && time.Now().Before(deadline) {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			time.Sleep(time.Millisecond)
		case err != nil:
			return false
		default:
			b = b[n:]
		}
	}
	return len(b) == 0
}

// readOne reads until a newline arrives, a byte at a time so that it never
// eats into the next answer, and acknowledges a handle as Node's peer
// does; received descriptors are closed, or kept open when keep is set.
func readOne(fd int, deadline time.Time, keep bool) bool {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*8))
	var line []byte
	for time.Now().Before(deadline) {
		if !readable(fd) {
			continue
		}
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			continue
		case err != nil || n == 0:
			return false
		}
		if !keep {
			closeRights(oob[:oobn])
		}
		if buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		if strings.HasPrefix(string(line), `{"cmd":"NODE_HANDLE",`) {
			return write(fd, []byte(`{"cmd":"NODE_HANDLE_ACK"}`+"\n"), deadline)
		}
		return true
	}
	return false
}

// readable waits up to 100 ms for fd to have something to read.
func readable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(pfd, 100)
	return n > 0
}

// drainForever reads and discards what herd sends, until the channel ends.
func drainForever(fd int) {
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(16*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil || n == 0 {
			return
		}
		closeRights(oob[:oobn])
	}
}

func closeRights(oob []byte) {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		fds, _ := unix.ParseUnixRights(&m)
		for _, f := range fds {
			unix.Close(f)
		}
	}
}

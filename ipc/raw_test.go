package ipc_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// rawPeer is the other end of an in-process channel: it writes arbitrary
// bytes and descriptors and reads exactly what the channel wrote.
type rawPeer struct {
	t    testing.TB
	conn *net.UnixConn
	buf  []byte // read but not yet returned
	fds  []int  // received with buf, not yet returned
}

// rawPair returns a channel over one end of a new socket pair and a
// rawPeer on the other; both are closed when the test ends.
func rawPair(t testing.TB, opts *ipc.Options) (*ipc.Channel, *rawPeer) {
	t.Helper()
	parent, child, err := ipc.Pair()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := net.FileConn(child)
	child.Close()
	if err != nil {
		parent.Close()
		t.Fatal(err)
	}
	ch := ipc.New(parent, opts)
	p := &rawPeer{t: t, conn: fc.(*net.UnixConn)}
	t.Cleanup(func() {
		ch.Close()
		p.conn.Close()
		p.closeFDs(p.fds)
	})
	return ch, p
}

// write writes s, with fds as SCM_RIGHTS on the same sendmsg when given.
func (p *rawPeer) write(s string, fds ...int) {
	p.t.Helper()
	if err := p.send([]byte(s), fds...); err != nil {
		p.t.Fatalf("raw write: %v", err)
	}
}

// send is write that returns the error.
func (p *rawPeer) send(b []byte, fds ...int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := p.conn.WriteMsgUnix(b, oob, nil)
	if err == nil && n < len(b) {
		_, err = p.conn.Write(b[n:])
	}
	return err
}

// fill reads once more into p.buf and p.fds, waiting until deadline.
func (p *rawPeer) fill(deadline time.Time) error {
	p.conn.SetReadDeadline(deadline)
	b := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*16))
	n, oobn, _, _, err := p.conn.ReadMsgUnix(b, oob)
	p.buf = append(p.buf, b[:max(n, 0)]...)
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				p.fds = append(p.fds, fds...)
			}
		}
		if perr != nil {
			p.t.Errorf("raw read: control message: %v", perr)
		}
	}
	return err
}

// readLine returns the next line the channel wrote (with its newline) and
// the descriptors that came with it; the caller closes them.
func (p *rawPeer) readLine() (string, []int) {
	p.t.Helper()
	deadline := time.Now().Add(liveness)
	for bytes.IndexByte(p.buf, '\n') < 0 {
		if err := p.fill(deadline); err != nil {
			p.t.Fatalf("raw read: %v (have %q)", err, p.buf)
		}
	}
	i := bytes.IndexByte(p.buf, '\n') + 1
	line := string(p.buf[:i])
	p.buf = p.buf[i:]
	fds := p.fds
	p.fds = nil
	return line, fds
}

// expectLine reads the next line and fails unless it is want + "\n" and
// came without descriptors.
func (p *rawPeer) expectLine(want string) {
	p.t.Helper()
	line, fds := p.readLine()
	p.closeFDs(fds)
	if line != want+"\n" || len(fds) != 0 {
		p.t.Fatalf("raw read %q with %d fds, want %q", line, len(fds), want+"\n")
	}
}

// expectQuiet fails if the channel writes anything within d. (A correct
// channel writes nothing; a slow machine can only make this pass.)
func (p *rawPeer) expectQuiet(d time.Duration) {
	p.t.Helper()
	err := p.fill(time.Now().Add(d))
	if len(p.buf) > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		p.t.Fatalf("raw read %q (%v), want nothing yet", p.buf, err)
	}
}

// expectEOF reads until the channel closed its end and returns every line
// still written before that.
func (p *rawPeer) expectEOF() string {
	p.t.Helper()
	deadline := time.Now().Add(liveness)
	for range 1 << 16 {
		err := p.fill(deadline)
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			p.closeFDs(p.fds)
			p.fds = nil
			return string(p.buf)
		}
		if err != nil {
			p.t.Fatalf("raw read: %v, want end of file", err)
		}
	}
	p.t.Fatal("raw read: no end of file")
	return ""
}

func (p *rawPeer) closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// sockFD returns the descriptor of a Go socket; it stays valid while the
// socket is open.
func sockFD(t testing.TB, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// socketPairFDs returns a new connected AF_UNIX stream pair as raw
// descriptors, closed when the test ends.
func socketPairFDs(t testing.TB) [2]int {
	t.Helper()
	fds, err := sysport.Socketpair(unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds
}

// sameFDs returns n copies of one end of a new socket pair (nil for 0),
// to send as SCM_RIGHTS.
func sameFDs(t testing.TB, n int) []int {
	if n == 0 {
		return nil
	}
	fds := make([]int, n)
	fd := socketPairFDs(t)[0]
	for i := range fds {
		fds[i] = fd
	}
	return fds
}

// osFile wraps a descriptor; closing the file closes fd.
func osFile(fd int) *os.File { return os.NewFile(uintptr(fd), "fd") }

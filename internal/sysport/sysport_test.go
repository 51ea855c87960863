package sysport

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { testutil.Main(m, nil) }

// closeAll closes fds when the test ends.
func closeAll(t *testing.T, fds ...int) {
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

// flags returns fd's close-on-exec and non-blocking bits.
func flags(t *testing.T, fd int) (cloexec, nonblock bool) {
	t.Helper()
	fdf, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fdf&unix.FD_CLOEXEC != 0, fl&unix.O_NONBLOCK != 0
}

// pair is a stream socketpair from Socketpair, closed at the test's end.
func pair(t *testing.T) [2]int {
	t.Helper()
	fds, err := Socketpair(unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, fds[0], fds[1])
	return fds
}

// TestSocketpair: both ends are close-on-exec, connected, of the type asked.
func TestSocketpair(t *testing.T) {
	testutil.CheckFDs(t)
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		fds, err := Socketpair(typ)
		if err != nil {
			t.Fatal(err)
		}
		closeAll(t, fds[0], fds[1])
		for _, fd := range fds {
			if ce, _ := flags(t, fd); !ce {
				t.Errorf("type %d: fd %d is not close-on-exec", typ, fd)
			}
			if got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); got != typ {
				t.Errorf("SO_TYPE %d, want %d", got, typ)
			}
		}
	}
}

// TestSocketAccept: Socket and Accept make close-on-exec, non-blocking
// descriptors; Accept on an empty queue says EAGAIN rather than wait.
func TestSocketAccept(t *testing.T) {
	testutil.CheckFDs(t)
	lfd, err := Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, lfd)
	if ce, nb := flags(t, lfd); !ce || !nb {
		t.Fatalf("socket: close-on-exec %v, non-blocking %v; want both", ce, nb)
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := Accept(lfd); err != unix.EAGAIN {
		t.Fatalf("accept on an empty queue: %v, want EAGAIN", err)
	}
	sa, _ := unix.Getsockname(lfd)
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fd := acceptSoon(t, lfd)
	if ce, nb := flags(t, fd); !ce || !nb {
		t.Fatalf("accepted: close-on-exec %v, non-blocking %v; want both", ce, nb)
	}
}

// acceptSoon accepts on the non-blocking lfd, polling for the connection,
// and checks the peer address AcceptAddr stored.
func acceptSoon(t *testing.T, lfd int) int {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	if n, err := Poll(pfd, 30*time.Second); n != 1 {
		t.Fatalf("no connection to accept: %d, %v", n, err)
	}
	var rsa unix.RawSockaddrAny
	fd, err := AcceptAddr(lfd, &rsa)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(t, fd)
	if rsa.Addr.Family != unix.AF_INET {
		t.Errorf("peer address family %d, want AF_INET", rsa.Addr.Family)
	}
	return fd
}

// TestPeerUID: the peer of a socketpair end is this process's user.
func TestPeerUID(t *testing.T) {
	testutil.CheckFDs(t)
	fds := pair(t)
	uid, err := PeerUID(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	if uid != os.Getuid() {
		t.Fatalf("peer uid %d, want %d", uid, os.Getuid())
	}
	if _, err := PeerUID(-1); err == nil {
		t.Fatal("PeerUID(-1): no error")
	}
}

// TestFamily: Family and the getsockname path (familyOf, macOS's) agree
// with the kernel on IPv4, IPv6 and Unix sockets.
func TestFamily(t *testing.T) {
	testutil.CheckFDs(t)
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6, unix.AF_UNIX} {
		fd, err := Socket(fam, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		closeAll(t, fd)
		if got, err := Family(fd); err != nil || got != fam {
			t.Errorf("Family: %d, %v; want %d", got, err, fam)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		if got := familyOf(sa); got != fam {
			t.Errorf("familyOf(%T) = %d, want %d", sa, got, fam)
		}
	}
	fds := pair(t)
	sa, err := unix.Getsockname(fds[0])
	if err != nil || familyOf(sa) != unix.AF_UNIX {
		t.Errorf("socketpair: getsockname %T, %v; want a Unix address", sa, err)
	}
}

// TestPoll: Poll reports a readable socket, and times out on an idle one
// after no less than it was asked to wait.
func TestPoll(t *testing.T) {
	testutil.CheckFDs(t)
	fds := pair(t)
	pfd := []unix.PollFd{{Fd: int32(fds[0]), Events: unix.POLLIN}}
	start := time.Now()
	if n, err := Poll(pfd, 20*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("idle socket: %d, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("returned after %v, before the 20ms asked", d)
	}
	unix.Write(fds[1], []byte("x"))
	if n, err := Poll(pfd, 30*time.Second); n != 1 || pfd[0].Revents&unix.POLLIN == 0 {
		t.Fatalf("readable socket: %d, %v, revents %#x", n, err, pfd[0].Revents)
	}
}

// TestMillis: poll's millisecond wait never falls short of the duration.
func TestMillis(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2}, {time.Second, 1000}, {1 << 62, 1<<31 - 1}} {
		if got := millis(c.d); got != c.want {
			t.Errorf("millis(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// TestCloexecRights: a descriptor received without MSG_CMSG_CLOEXEC (as
// on macOS) is close-on-exec after cloexecRights, and RecvFlags plus
// CloexecRights make it so on this system.
func TestCloexecRights(t *testing.T) {
	testutil.CheckFDs(t)
	for _, tc := range []struct {
		name  string
		flags int
		fix   func([]byte)
	}{{"plain recvmsg, cloexecRights", 0, cloexecRights}, {"RecvFlags, CloexecRights", RecvFlags, CloexecRights}} {
		fd := passFD(t, tc.flags, tc.fix)
		if ce, _ := flags(t, fd); !ce {
			t.Errorf("%s: received fd %d is not close-on-exec", tc.name, fd)
		}
	}
	cloexecRights([]byte{1, 2, 3}) // unparsable: ignored
}

// passFD sends a descriptor over a socketpair and receives it with
// recvmsg flags, then fix on the ancillary data; it returns the
// received descriptor, closed at the test's end.
func passFD(t *testing.T, flags int, fix func([]byte)) int {
	t.Helper()
	fds := pair(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Sendmsg(fds[0], []byte("x"), unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		t.Fatal(err)
	}
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(fds[1], make([]byte, 1), oob, flags)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	if len(msgs) != 1 {
		t.Fatalf("%d control messages, want 1", len(msgs))
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("rights %v, %v", got, err)
	}
	closeAll(t, got[0])
	fix(oob[:oobn])
	return got[0]
}

// TestPdeathsig: SetPdeathsig and Pdeathsig agree, and say whether the
// kernel has the signal (Linux only).
func TestPdeathsig(t *testing.T) {
	var a syscall.SysProcAttr
	ok := SetPdeathsig(&a, syscall.SIGKILL)
	want := syscall.Signal(0)
	if ok {
		want = syscall.SIGKILL
	}
	if got := Pdeathsig(&a); got != want {
		t.Fatalf("Pdeathsig %v after SetPdeathsig (%v), want %v", got, ok, want)
	}
}

// TestCloexecFrom: an inherited-style descriptor (dup: not close-on-exec)
// is close-on-exec after CloexecFrom, and after macOS's path (/dev/fd),
// while descriptors below from are left alone.
func TestCloexecFrom(t *testing.T) {
	testutil.CheckFDs(t)
	for _, tc := range []struct {
		name string
		mark func(from int)
	}{{"CloexecFrom", CloexecFrom}, {"/dev/fd", func(from int) { cloexecListed("/dev/fd", from) }}} {
		fds := pair(t)
		fd, err := unix.Dup(fds[0])
		if err != nil {
			t.Fatal(err)
		}
		closeAll(t, fd)
		if ce, _ := flags(t, fd); ce {
			t.Fatal("dup made a close-on-exec descriptor")
		}
		tc.mark(fd + 1)
		if ce, _ := flags(t, fd); ce {
			t.Fatalf("%s(%d) marked fd %d", tc.name, fd+1, fd)
		}
		tc.mark(fd)
		if ce, _ := flags(t, fd); !ce {
			t.Errorf("%s: fd %d is not close-on-exec", tc.name, fd)
		}
	}
}

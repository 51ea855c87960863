package ipc_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// rawConnPair accepts a connection with accept4, as a round-robin
// primary does, and returns its descriptor and the client's end.
func rawConnPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	lfd, addr := rawSocket(t, unix.SOCK_STREAM, true)
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, client)
	fd, err := sysport.Accept(lfd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, client
}

// TestLendHandle lends several accepted connections at once, raw
// descriptors kept by the caller until each answer, as a primary does.
func TestLendHandle(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-serve")
	ch.SetHandleWindow(4)
	const n = 6
	fds := make([]int, n)
	clients := make([]net.Conn, n)
	answers := make(chan error, n)
	for i := range n {
		fds[i], clients[i] = rawConnPair(t)
		msg := json.RawMessage(fmt.Sprintf(`{"conn":%d}`, i))
		ch.LendHandle(msg, ipc.Handle{Type: ipc.TypeNative, FD: fds[i]}, func(err error) { answers <- err })
	}
	for i := range n {
		r := recvInto[handleReport](t, ch)
		if want := fmt.Sprintf(`{"conn":%d}`, i); r.Type != ipc.TypeNative || r.Go != "conn" || string(r.Data) != want {
			t.Fatalf("child got %+v, want a net.Native conn with %s", r, want)
		}
		if err := <-answers; err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		// The lent descriptor is still the caller's: open, and closed by it.
		if _, err := unix.FcntlInt(uintptr(fds[i]), unix.F_GETFD, 0); err != nil {
			t.Fatalf("the lent fd %d was closed by the channel: %v", fds[i], err)
		}
		unix.Close(fds[i])
		pingStream(t, clients[i])
		if r := recvInto[handleReport](t, ch); r.Used != "ok" {
			t.Fatalf("child could not use connection %d: %s", i, r.Used)
		}
	}
}

// TestLendHandleRefusesDatagrams: a lent handle is not inspected, so only
// stream types, whose envelope needs nothing from the kernel, are taken.
func TestLendHandleRefusesDatagrams(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-serve")
	fd, _ := rawSocket(t, unix.SOCK_DGRAM, false)
	var got error
	ch.LendHandle(nil, ipc.Handle{Type: ipc.TypeDgramNative, FD: fd}, func(err error) { got = err })
	if got == nil || !strings.Contains(got.Error(), "not a stream socket type") {
		t.Fatalf("lending a dgram.Native: %v", got)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatalf("the refused fd was closed: %v", err)
	}
}

package ipc_test

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// badHandles returns handles SendHandle must refuse, with a word of the
// error each must give.
func badHandles(t *testing.T) map[string]struct {
	h    any
	want string
} {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, client)
	f, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, f)
	lnFD := sockFD(t, ln.(*net.TCPListener))
	dgramPair, err := sysport.Socketpair(unix.SOCK_DGRAM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(dgramPair[0]); unix.Close(dgramPair[1]) })
	return map[string]struct {
		h    any
		want string
	}{
		"socket type on a listener":   {ipc.Handle{Type: ipc.TypeSocket, FD: lnFD}, "connected stream socket"},
		"dgram type on TCP":           {ipc.Handle{Type: ipc.TypeDgramSocket, FD: lnFD}, "UDP"},
		"dgram native on TCP":         {ipc.Handle{Type: ipc.TypeDgramNative, FD: sockFD(t, client.(*net.TCPConn))}, "UDP"},
		"server type on a connection": {ipc.Handle{Type: ipc.TypeServer, FD: sockFD(t, client.(*net.TCPConn))}, "connected"},
		"unknown type":                {ipc.Handle{Type: "net.Pipe", FD: lnFD}, `unknown handle type "net.Pipe"`},
		"regular file":                {f, "not a socket"},
		"regular file fd":             {ipc.Handle{Type: ipc.TypeNative, FD: int(f.Fd())}, "not a socket"},
		"unix datagram socket":        {ipc.Handle{FD: dgramPair[0]}, "UDP"},
		"closed fd":                   {ipc.Handle{Type: ipc.TypeNative, FD: 1 << 20}, "bad file descriptor"},
		"nil":                         {nil, "nil handle"},
		"not a socket object":         {"a string", "not a socket"},
	}
}

func TestSendHandleValidation(t *testing.T) {
	testutil.CheckFDs(t)
	for name, c := range badHandles(t) {
		t.Run(name, func(t *testing.T) {
			testutil.CheckFDs(t)
			ch, p := rawPair(t, nil)
			err := waitResult(t, ch.SendHandleAsync("never", c.h))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("SendHandle: %v, want an error about %q", err, c.want)
			}
			// Nothing was sent and the channel still works.
			mustSend(t, ch, "probe")
			p.expectLine(`"probe"`)
		})
	}
}

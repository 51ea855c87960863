package ipc_test

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// helperGive sends the parent a handle of the kind each message asks for
// (see giveHandle), then a plain message {"done":...}.
func helperGive() {
	ch := childChannel()
	for m := range ch.Messages() {
		var kind string
		m.Decode(&kind)
		ch.Send(map[string]string{"done": errText(giveHandle(ch, kind))})
	}
	ch.Close()
}

// giveHandle makes a socket of the given kind, sends it and closes this
// side's copy.
func giveHandle(ch *ipc.Channel, kind string) error {
	switch kind {
	case "tcp", "udp4":
		return giveListener(ch, kind)
	case "conn":
		return giveConn(ch)
	}
	return fmt.Errorf("unknown kind %q", kind)
}

// giveConn sends one end of a new socket pair and pings over the other.
func giveConn(ch *ipc.Channel) error {
	fds, err := sysport.Socketpair(unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	f := osFile(fds[1])
	c, err := net.FileConn(f)
	f.Close()
	if err == nil {
		defer c.Close()
		err = ch.SendHandle("conn", ipc.Handle{Type: ipc.TypeSocket, FD: fds[0]})
	}
	unix.Close(fds[0])
	if err != nil {
		return err
	}
	return ping(c)
}

func giveListener(ch *ipc.Channel, kind string) error {
	var c io.Closer
	var err error
	if kind == "tcp" {
		c, err = net.Listen("tcp", "127.0.0.1:0")
	} else {
		c, err = net.ListenPacket("udp4", "127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	defer c.Close()
	return ch.SendHandle(kind, c)
}

func TestHandleFromChild(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-give")
	for _, kind := range []string{"tcp", "udp4", "conn"} {
		mustSend(t, ch, kind)
		m := recvMsg(t, ch)
		if c, ok := m.Handle.(io.Closer); ok {
			closeAfter(t, c)
		}
		useGiven(t, kind, m.Handle)
		if r := recvInto[map[string]string](t, ch); r["done"] != "ok" {
			t.Fatalf("%s: child: %s", kind, r["done"])
		}
	}
}

// useGiven checks that a handle the give helper sent works in this
// process: it answers a ping.
func useGiven(t *testing.T, kind string, h any) {
	t.Helper()
	wait := goEach(1, func(int) error { return useHandle(h) })
	switch h := h.(type) {
	case net.Listener:
		pingAddr(t, "tcp", h.Addr().String())
	case *net.UDPConn:
		pingUDP(t, h.LocalAddr().String())
	case net.Conn:
		// The child pings over it.
	default:
		t.Fatalf("%s: got handle %T", kind, h)
	}
	if err := wait(); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
}

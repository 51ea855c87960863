package ipc_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// handleReport is what the serve helper says about a handle it got.
type handleReport struct {
	Type string          `json:"type"` // Message.HandleType
	Go   string          `json:"go"`   // listener, conn or packet
	Data json.RawMessage `json:"data"`
	Used string          `json:"used"` // the error using it, or "ok"
}

// helperServe reports every handle it gets, then uses it once: a listener
// accepts one connection, a connection echoes a line, a UDP socket echoes
// a datagram (see echoStream and echoPacket). Plain messages are echoed.
func helperServe() {
	ch := childChannel()
	for m := range ch.Messages() {
		if m.Handle == nil {
			ch.Send(m.Data)
			continue
		}
		r := handleReport{Type: m.HandleType, Go: goKind(m.Handle), Data: m.Data}
		ch.Send(r)
		r.Used = errText(useHandle(m.Handle))
		m.CloseHandle()
		ch.Send(r)
	}
	ch.Close()
}

func goKind(h any) string {
	switch h.(type) {
	case net.Listener:
		return "listener"
	case *net.UDPConn: // a net.Conn too
		return "packet"
	case net.Conn:
		return "conn"
	}
	return fmt.Sprintf("%T", h)
}

func errText(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func useHandle(h any) error {
	switch h := h.(type) {
	case net.Listener:
		h.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Now().Add(liveness))
		c, err := h.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		return echoStream(c)
	case *net.UDPConn:
		return echoPacket(h)
	case net.Conn:
		return echoStream(h)
	}
	return fmt.Errorf("unexpected handle %T", h)
}

// echoStream reads a line from c and writes it back after "echo:".
func echoStream(c net.Conn) error {
	c.SetDeadline(time.Now().Add(liveness))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil {
		_, err = io.WriteString(c, "echo:"+line)
	}
	return err
}

// echoPacket reads a datagram and sends it back after "echo:".
func echoPacket(pc net.PacketConn) error {
	pc.SetDeadline(time.Now().Add(liveness))
	buf := make([]byte, 2048)
	n, from, err := pc.ReadFrom(buf)
	if err == nil {
		_, err = pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
	}
	return err
}

// ping writes a line on c and checks the echo.
func ping(c net.Conn) error {
	c.SetDeadline(time.Now().Add(liveness))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	if got, err := bufio.NewReader(c).ReadString('\n'); got != "echo:ping\n" {
		return fmt.Errorf("read %q (%v), want the echo", got, err)
	}
	return nil
}

// pingStream is ping that fails the test.
func pingStream(t *testing.T, c net.Conn) {
	t.Helper()
	if err := ping(c); err != nil {
		t.Fatal(err)
	}
}

// pingAddr connects to addr and pings.
func pingAddr(t *testing.T, network, addr string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, liveness)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pingStream(t, c)
}

// pingUDP sends a datagram to addr and checks the echo.
func pingUDP(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(liveness))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	if n, err := c.Read(buf); string(buf[:n]) != "echo:ping" {
		t.Fatalf("read %q (%v), want the echo", buf[:n], err)
	}
}

// handleCase is a handle to pass and how to check the receiver can use it.
type handleCase struct {
	name     string
	setup    func(t *testing.T) (h any, ping func())
	wantType string
	wantGo   string
}

var handleCases = []handleCase{
	{"tcp listener", tcpListenerCase, ipc.TypeServer, "listener"},
	{"unix listener", unixListenerCase, ipc.TypeServer, "listener"},
	{"tcp conn", tcpConnCase, ipc.TypeSocket, "conn"},
	{"unix conn", unixConnCase, ipc.TypeSocket, "conn"},
	{"udp4", udpCase("udp4", "127.0.0.1:0"), ipc.TypeDgramSocket, "packet"},
	{"native tcp fd", nativeTCPCase, ipc.TypeNative, "listener"},
	{"native udp fd", nativeUDPCase, ipc.TypeDgramNative, "packet"},
	{"bound server fd", boundServerCase, ipc.TypeServer, "listener"},
}

func TestHandleTypes(t *testing.T) {
	for _, hc := range handleCases {
		t.Run(hc.name, func(t *testing.T) {
			testutil.CheckFDs(t)
			ch := spawnChannel(t, "ipc-serve")
			h, ping := hc.setup(t)
			if err := ch.SendHandle(map[string]string{"case": hc.name}, h); err != nil {
				t.Fatalf("SendHandle: %v", err)
			}
			r := recvInto[handleReport](t, ch)
			want := fmt.Sprintf(`{"case":%q}`, hc.name)
			if r.Type != hc.wantType || r.Go != hc.wantGo || string(r.Data) != want {
				t.Fatalf("child got %+v, want type %s as a %s with %s", r, hc.wantType, hc.wantGo, want)
			}
			ping()
			if r := recvInto[handleReport](t, ch); r.Used != "ok" {
				t.Fatalf("child could not use the handle: %s", r.Used)
			}
		})
	}
}

// closeAfter closes c when the test ends.
func closeAfter(t *testing.T, c io.Closer) {
	t.Cleanup(func() { c.Close() })
}

func tcpListenerCase(t *testing.T) (any, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, ln)
	return ln, func() {
		ln.Close() // the child's copy must serve alone
		pingAddr(t, "tcp", ln.Addr().String())
	}
}

func unixListenerCase(t *testing.T) (any, func()) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	closeAfter(t, ln)
	return ln, func() {
		ln.Close()
		pingAddr(t, "unix", path)
	}
}

func tcpConnCase(t *testing.T) (any, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, client)
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, server)
	return server, func() {
		server.Close()
		pingStream(t, client)
	}
}

func unixConnCase(t *testing.T) (any, func()) {
	pair := socketPairFDs(t)
	return ipc.Handle{Type: ipc.TypeSocket, FD: pair[0]}, func() { pingStream(t, fdConn(t, pair[1])) }
}

// fdConn makes a net.Conn of a duplicate of fd.
func fdConn(t *testing.T, fd int) net.Conn {
	t.Helper()
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := osFile(dup)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	closeAfter(t, c)
	return c
}

func udpCase(network, addr string) func(t *testing.T) (any, func()) {
	return func(t *testing.T) (any, func()) {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Skipf("no %s: %v", network, err)
		}
		closeAfter(t, pc)
		return pc, func() {
			pc.Close()
			pingUDP(t, pc.LocalAddr().String())
		}
	}
}

// rawSocket makes a socket with the system calls (no Go object), bound to
// 127.0.0.1 on a free port, and returns it with its address.
func rawSocket(t *testing.T, typ int, listen bool) (int, string) {
	t.Helper()
	fd, err := sysport.Socket(unix.AF_INET, typ, 0)
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if listen {
		if err := unix.Listen(fd, 16); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}

func nativeTCPCase(t *testing.T) (any, func()) {
	fd, addr := rawSocket(t, unix.SOCK_STREAM, true)
	return ipc.Handle{Type: ipc.TypeNative, FD: fd}, func() { pingAddr(t, "tcp", addr) }
}

func nativeUDPCase(t *testing.T) (any, func()) {
	fd, addr := rawSocket(t, unix.SOCK_DGRAM, false)
	return ipc.Handle{Type: ipc.TypeDgramNative, FD: fd}, func() { pingUDP(t, addr) }
}

// boundServerCase passes a bound socket that is not listening yet, as Node
// allows for net.Server: the receiver listens on it.
func boundServerCase(t *testing.T) (any, func()) {
	fd, addr := rawSocket(t, unix.SOCK_STREAM, false)
	return ipc.Handle{Type: ipc.TypeServer, FD: fd}, func() { pingAddr(t, "tcp", addr) }
}

package ipc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// The Node handle types. The type travels in the NODE_HANDLE envelope and
// tells the receiver what object to make of the file descriptor.
const (
	TypeServer      = "net.Server"   // a bound (perhaps listening) stream socket: a server
	TypeSocket      = "net.Socket"   // a connected stream socket
	TypeNative      = "net.Native"   // a raw TCP or Unix stream socket (Node's cluster uses it)
	TypeDgramSocket = "dgram.Socket" // a UDP socket
	TypeDgramNative = "dgram.Native" // a raw UDP socket (Node's cluster uses it)
)

// Handle is a socket file descriptor to send with an explicit handle type,
// for callers that hold a raw descriptor (an accepted connection that never
// became a Go object, say). SendHandle duplicates FD; the caller keeps it.
type Handle struct {
	Type string
	FD   int
}

// sockInfo is what the kernel says about a socket.
type sockInfo struct {
	family    int // unix.AF_INET, AF_INET6, AF_UNIX
	sotype    int // unix.SOCK_STREAM, SOCK_DGRAM
	listening bool
	connected bool // it has a peer (getpeername works)
}

func inspect(fd int) (sockInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return sockInfo{}, fmt.Errorf("fstat fd %d: %w", fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return sockInfo{}, fmt.Errorf("fd %d is not a socket", fd)
	}
	var si sockInfo
	var err error
	if si.family, err = sysport.Family(fd); err != nil {
		return si, fmt.Errorf("fd %d: %w", fd, err)
	}
	if si.sotype, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		return si, fmt.Errorf("fd %d: SO_TYPE: %w", fd, err)
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	si.listening = err == nil && acc != 0
	_, err = unix.Getpeername(fd)
	si.connected = err == nil
	return si, nil
}

func (si sockInfo) inet() bool { return si.family == unix.AF_INET || si.family == unix.AF_INET6 }

// check reports whether a socket of this kind may travel as typ.
func (si sockInfo) check(typ string) error {
	stream := si.sotype == unix.SOCK_STREAM && (si.inet() || si.family == unix.AF_UNIX)
	switch typ {
	case TypeServer:
		if !stream || si.connected {
			return fmt.Errorf("%s needs a bound or listening TCP or Unix stream socket, not a connected one", typ)
		}
	case TypeNative:
		if !stream {
			return fmt.Errorf("%s needs a TCP or Unix stream socket", typ)
		}
	case TypeSocket:
		if !stream || si.listening {
			return fmt.Errorf("%s needs a connected stream socket", typ)
		}
	case TypeDgramSocket, TypeDgramNative:
		if si.sotype != unix.SOCK_DGRAM || !si.inet() {
			return fmt.Errorf("%s needs a UDP socket", typ)
		}
	default:
		return fmt.Errorf("unknown handle type %q", typ)
	}
	return nil
}

// defaultType picks the Node type for a socket sent without one.
func (si sockInfo) defaultType() string {
	switch {
	case si.sotype == unix.SOCK_DGRAM:
		return TypeDgramSocket
	case si.listening:
		return TypeServer
	default:
		return TypeSocket
	}
}

func (si sockInfo) dgramType() string {
	if si.family == unix.AF_INET6 {
		return "udp6"
	}
	return "udp4"
}

// dupFD returns a close-on-exec duplicate of h's file descriptor and the
// type h travels as. It never touches the original's blocking mode (no
// File().Fd()).
func dupFD(h any) (int, string, error) {
	switch v := h.(type) {
	case Handle:
		fd, err := unix.FcntlInt(uintptr(v.FD), unix.F_DUPFD_CLOEXEC, 0)
		return fd, v.Type, err
	case *Handle:
		return dupFD(*v)
	case syscall.Conn:
		return dupConn(v)
	case nil:
		return -1, "", errors.New("nil handle")
	}
	return -1, "", fmt.Errorf("handle of type %T is not a socket (want net.Listener, net.Conn, net.PacketConn or ipc.Handle)", h)
}

func dupConn(c syscall.Conn) (int, string, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, "", err
	}
	fd := -1
	var derr error
	err = rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = derr
	}
	return fd, "", err
}

// fromFD turns a received file descriptor into the object its type names.
// It takes ownership of fd: it is closed in every case (the object holds
// a duplicate).
func fromFD(fd int, typ string) (any, error) {
	f := os.NewFile(uintptr(fd), typ)
	defer f.Close()
	if typ == TypeSocket || typ == TypeNative {
		if c := connectedTCP(f); c != nil {
			return c, nil
		}
	}
	si, err := inspect(fd)
	if err == nil {
		err = si.check(typ)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case typ == TypeDgramSocket || typ == TypeDgramNative:
		return fileObject(net.FilePacketConn(f))
	case typ == TypeServer && !si.listening:
		if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
			return nil, fmt.Errorf("listen on received %s: %w", typ, err)
		}
		return fileObject(net.FileListener(f))
	case si.listening:
		return fileObject(net.FileListener(f))
	default:
		return fileObject(net.FileConn(f))
	}
}

// fileObject returns what one of net's File* constructors made, or its
// error (never a typed nil).
func fileObject[T any](obj T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// connectedTCP is fromFD's fast path for the common handle, a connected
// TCP socket sent as net.Socket or net.Native: net.FileConn asks the kernel what the
// socket is anyway, so a *net.TCPConn with a peer needs no inspect. It
// returns nil for anything else.
func connectedTCP(f *os.File) net.Conn {
	c, err := net.FileConn(f)
	if err != nil {
		return nil
	}
	if tc, ok := c.(*net.TCPConn); ok && tc.RemoteAddr() != nil {
		return c
	}
	c.Close()
	return nil
}

// knownSocket describes h without a system call when its Go type says all
// that check needs: a *net.TCPConn with a peer is a connected TCP stream
// socket (AF_INET stands for both inet families here; only UDP's
// dgramType tells them apart). ok is false for anything else.
func knownSocket(h any) (si sockInfo, ok bool) {
	c, isTCP := h.(*net.TCPConn)
	if !isTCP {
		return si, false
	}
	if ra, _ := c.RemoteAddr().(*net.TCPAddr); ra == nil {
		return si, false
	}
	return sockInfo{family: unix.AF_INET, sotype: unix.SOCK_STREAM, connected: true}, true
}

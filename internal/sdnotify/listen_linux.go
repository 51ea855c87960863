package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// maxDatagram is the largest notification read; systemd's own limit is
// about as large.
const maxDatagram = 4096

// Listen creates the socket at path, replacing a file left there. The
// caller owns the directory (it should be private).
func Listen(path string) (*Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("sdnotify: %w", err)
	}
	if err := passCred(conn); err != nil {
		conn.Close()
		os.Remove(path)
		return nil, err
	}
	return &Listener{conn: conn, path: path}, nil
}

func passCred(conn *net.UnixConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("sdnotify: SO_PASSCRED: %w", serr)
	}
	return nil
}

// Receive waits for the next notification. After Close it returns an
// error matching net.ErrClosed. Descriptors sent along (FDSTORE=1) are
// closed: they are not kept.
func (l *Listener) Receive() (Message, error) {
	buf := make([]byte, maxDatagram)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*64))
	for {
		n, oobn, _, _, err := l.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return Message{}, fmt.Errorf("sdnotify: %w", err)
		}
		pid := senderPid(oob[:oobn])
		if pid <= 0 {
			continue
		}
		return Message{Pid: pid, Fields: parseFields(buf[:n])}, nil
	}
}

// senderPid reads SCM_CREDENTIALS and closes any SCM_RIGHTS descriptors.
func senderPid(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	pid := 0
	for _, m := range msgs {
		if fds, err := unix.ParseUnixRights(&m); err == nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue
		}
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			pid = int(cred.Pid)
		}
	}
	return pid
}

// Close closes the socket and removes its file.
func (l *Listener) Close() error {
	err := l.conn.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

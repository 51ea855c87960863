package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// requestTimeout bounds how long a client may take to send its request.
const requestTimeout = 10 * time.Second

// Server is a control socket.
type Server struct {
	path string
	ln   *net.UnixListener
	uid  int
	wg   sync.WaitGroup
	once sync.Once
}

// Listen creates the control socket at path, mode 0600, in a directory
// only this user can enter (made, mode 0700, when missing). A stale
// socket of a herd that died is replaced; a live one is an error.
func Listen(path string) (*Server, error) {
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return &Server{path: path, ln: ln, uid: os.Getuid()}, nil
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

// Serve answers connections with h until Close. It returns nil after
// Close.
func (s *Server) Serve(h Handler) error {
	for {
		c, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors: breathe
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c, h)
		}()
	}
}

// Close removes the socket and waits for the requests in progress.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

func (s *Server) serveConn(c *net.UnixConn, h Handler) {
	defer c.Close()
	if uid, err := peerUID(c); err != nil || uid != s.uid {
		reply(c, &Response{Error: refusal(uid, err)})
		return
	}
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	line, err := readLine(bufio.NewReader(c))
	if err != nil {
		reply(c, &Response{Error: "control: bad request: " + err.Error()})
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(c, &Response{Error: "control: bad request: " + err.Error()})
		return
	}
	reply(c, dispatch(h, req))
}

func refusal(uid int, err error) string {
	if err != nil {
		return "control: refused: cannot tell who is asking: " + err.Error()
	}
	return fmt.Sprintf("control: refused: uid %d does not own this herd", uid)
}

// peerUID is the uid of the process at the other end (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, os.NewSyscallError("getsockopt SO_PEERCRED", cerr)
	}
	return int(cred.Uid), nil
}

// dispatch runs one request.
func dispatch(h Handler, req Request) *Response {
	var err error
	resp := &Response{}
	switch req.Cmd {
	case CmdStatus:
		resp.Status, err = h.Status()
	case CmdReload:
		err = h.Reload()
	case CmdScale:
		err = h.Scale(req.N)
	case CmdStop:
		err = h.Stop()
	default:
		err = fmt.Errorf("control: unknown command %q", req.Cmd)
	}
	if err != nil {
		return &Response{Error: err.Error()}
	}
	resp.OK = true
	return resp
}

func reply(c *net.UnixConn, r *Response) {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(&Response{Error: "control: " + err.Error()})
	}
	c.SetWriteDeadline(time.Now().Add(requestTimeout))
	c.Write(append(b, '\n'))
}

// readLine reads one line of at most maxLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// alive reports whether something answers on the socket at path.
func alive(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT)
	}
	c.Close()
	return true
}

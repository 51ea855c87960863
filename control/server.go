package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/sysport"
)

// Server is a control socket. It serves at most MaxConns connections at
// once, each a request of at most MaxRequest bytes sent within
// RequestTimeout.
type Server struct {
	// Logger, if set before Serve, gets a line (at most every 10 s) when
	// connections are refused for being too many.
	Logger *slog.Logger

	path   string
	ln     *net.UnixListener
	uid    int
	slots  chan struct{}      // one per connection served
	closed context.Context    // done once Close is called
	close  context.CancelFunc // ends closed
	wg     sync.WaitGroup
	once   sync.Once
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
	closed, cancel := context.WithCancel(context.Background())
	return &Server{path: path, ln: ln, uid: os.Getuid(), slots: make(chan struct{}, MaxConns), closed: closed, close: cancel}, nil
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

// Serve answers connections with h until Close. It returns nil after
// Close.
func (s *Server) Serve(h Handler) error {
	refused := &refusals{log: s.Logger}
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
		select {
		case s.slots <- struct{}{}:
		default:
			refused.refuse(c)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(c, h)
		}()
	}
}

// Close removes the socket, drops the connections still sending their
// request, and waits for the requests in progress.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.close()
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
	line, err := s.readRequest(c)
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

// readRequest reads the request line, within RequestTimeout and
// MaxRequest bytes; Close cuts it short.
func (s *Server) readRequest(c *net.UnixConn) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(RequestTimeout))
	stop := context.AfterFunc(s.closed, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	return readLine(bufio.NewReader(c), MaxRequest)
}

func refusal(uid int, err error) string {
	if err != nil {
		return "control: refused: cannot tell who is asking: " + err.Error()
	}
	return fmt.Sprintf("control: refused: uid %d does not own this herd", uid)
}

// peerUID is the uid of the process at the other end (SO_PEERCRED,
// LOCAL_PEERCRED: sysport.PeerUID).
func peerUID(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid, cerr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { uid, cerr = sysport.PeerUID(int(fd)) }); err != nil {
		return -1, err
	}
	return uid, cerr
}

// dispatch runs one request.
func dispatch(h Handler, req Request) *Response {
	var err error
	resp := &Response{}
	switch req.Cmd {
	case CmdStatus:
		resp.Status, err = h.Status(req.Program)
	case CmdReload:
		err = h.Reload(req.Program)
	case CmdScale:
		err = h.Scale(req.Program, req.N)
	case CmdStop:
		err = h.Stop()
	case CmdUpgrade:
		resp.Pid, err = upgrade(h, req.Timeout)
	default:
		err = fmt.Errorf("control: unknown command %q", req.Cmd)
	}
	if err != nil {
		return &Response{Error: err.Error(), BadRequest: errors.Is(err, ErrBadRequest)}
	}
	resp.OK = true
	return resp
}

// upgrade runs CmdUpgrade, if h can.
func upgrade(h Handler, timeout time.Duration) (int, error) {
	u, ok := h.(Upgrader)
	if !ok {
		return 0, errors.New("control: this herd cannot upgrade")
	}
	return u.Upgrade(timeout)
}

// reply writes r, within RequestTimeout.
func reply(c *net.UnixConn, r *Response) {
	c.SetWriteDeadline(time.Now().Add(RequestTimeout))
	writeResponse(c, r)
}

func writeResponse(c net.Conn, r *Response) {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(&Response{Error: "control: " + err.Error()})
	}
	c.Write(append(b, '\n'))
}

// readLine reads one line of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		if len(line)+len(chunk) > max {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		line = append(line, chunk...)
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

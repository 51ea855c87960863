package control

import (
	"context"
	"fmt"
	"net"
	"os"
)

// A herd that upgrades (CmdUpgrade) hands its control socket to the new
// herd: File gives the listening socket to pass on, ListenFile serves it
// in the new herd, on the same path (Own once the old herd has handed
// over), and Detach stops the old herd
// accepting on it without removing the file, while the requests it took
// are answered.

// File returns a duplicate of the listening socket, for a successor
// (ListenFile). The caller closes it.
func (s *Server) File() (*os.File, error) {
	f, err := s.ln.File()
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return f, nil
}

// ListenFile serves the control socket at path that a predecessor passed
// as f (its File), instead of creating it. It takes f (closes it).
func ListenFile(path string, f *os.File) (*Server, error) {
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("control: inherited socket %s: %w", path, err)
	}
	ln, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("control: inherited socket %s is not a unix socket", path)
	}
	ln.SetUnlinkOnClose(false) // the predecessor's, until Own
	closed, cancel := context.WithCancel(context.Background())
	return &Server{path: path, ln: ln, uid: os.Getuid(), slots: make(chan struct{}, MaxConns), closed: closed, close: cancel}, nil
}

// Detach stops accepting connections and leaves the socket's file to a
// successor; the requests in progress go on (Close waits for them).
func (s *Server) Detach() {
	s.ln.SetUnlinkOnClose(false)
	s.ln.Close()
}

// Own makes a server of ListenFile remove the socket's file at Close, as
// one of Listen does: its predecessor has handed over. Until then Close
// leaves the file to the predecessor.
func (s *Server) Own() { s.ln.SetUnlinkOnClose(true) }

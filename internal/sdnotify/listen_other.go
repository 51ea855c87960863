//go:build !linux

package sdnotify

import (
	"fmt"
	"net"
)

// Listen makes a Listener without a socket: only Linux stamps a
// datagram with its sender's pid (SO_PASSCRED). Path is "".
func Listen(path string) (*Listener, error) {
	return &Listener{done: make(chan struct{})}, nil
}

// Receive waits for Close, then returns an error matching net.ErrClosed:
// no notification comes where there is no socket.
func (l *Listener) Receive() (Message, error) {
	<-l.done
	return Message{}, fmt.Errorf("sdnotify: %w", net.ErrClosed)
}

// Close ends Receive. It may be called once.
func (l *Listener) Close() error {
	close(l.done)
	return nil
}

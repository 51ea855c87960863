package ipc_test

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// benchConnector keeps connectorConns connections to $BENCH_CONNECT_ADDR
// (an IPv4 address) open: when the server closes one, it closes its end
// and connects again. It stops when its standard input closes, or after
// two minutes. It uses raw non-blocking sockets and one epoll loop (four
// system calls per connection) so that as little of the machine as
// possible goes to the load generator; the Node script uses it too.
func benchConnector() {
	sa, err := connectAddr(os.Getenv(envConnectAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connector:", err)
		os.Exit(2)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err == nil {
		err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, 0, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0})
	}
	for range connectorConns {
		if err == nil {
			err = connectOne(ep, sa)
		}
	}
	if err == nil {
		err = connectorLoop(ep, sa, time.Now().Add(2*time.Minute))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "connector:", err)
		os.Exit(2)
	}
}

// connectorLoop replaces every connection the server closed (or that
// failed) until stdin (fd 0) is readable (at its end) or the deadline.
func connectorLoop(ep int, sa *unix.SockaddrInet4, deadline time.Time) error {
	events := make([]unix.EpollEvent, 64)
	for time.Now().Before(deadline) {
		n, err := unix.EpollWait(ep, events, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			if ev.Fd == 0 {
				return nil
			}
			unix.Close(int(ev.Fd))
			if ev.Events&unix.EPOLLERR != 0 {
				time.Sleep(time.Millisecond) // refused: do not spin
			}
			if err := connectOne(ep, sa); err != nil {
				return err
			}
		}
	}
	return nil
}

// connectOne starts a connection and watches it for its end.
func connectOne(ep int, sa *unix.SockaddrInet4) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	return unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev)
}

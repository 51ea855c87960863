package state_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// redisServer is a real redis-server run by a test: on a free loopback
// port, in the test's temporary directory, without persistence, with
// keyspace notifications for expiry (Kx) on. It is stopped when the test
// ends.
type redisServer struct {
	tb   testing.TB
	path string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a server, or skips the test when redis-server is
// not installed.
func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it): skipping the Redis backend")
	}
	r := &redisServer{tb: tb, path: path, dir: tb.TempDir()}
	for attempt := 0; attempt < 5; attempt++ {
		r.port = testutil.FreePort(tb)
		if err = r.start(); err == nil {
			tb.Cleanup(r.stop)
			return r
		}
	}
	tb.Fatalf("redis-server would not start: %v", err)
	return nil
}

// URL is the server's redis:// URL, database 0.
func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs the server on r.port and waits until it answers PING.
func (r *redisServer) start() error {
	r.cmd = exec.Command(r.path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
		"--notify-keyspace-events", "Kx", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		c.Wait()
		close(done)
	}(r.cmd, r.done)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited at start (port %d in use?)", r.port)
		default:
		}
		if r.ping() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.kill()
	return fmt.Errorf("redis-server on port %d did not answer in 20s", r.port)
}

// ping sends PING over a plain connection.
func (r *redisServer) ping() error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.port), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// kill stops the server at once (SIGKILL) and waits for it.
func (r *redisServer) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// restart starts the server again on the same port, empty.
func (r *redisServer) restart() {
	r.tb.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.tb.Fatalf("redis-server would not restart on port %d: %v", r.port, err)
}

func (r *redisServer) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.kill()
	}
}

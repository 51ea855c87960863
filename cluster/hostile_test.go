package cluster_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// helperFloodListen speaks herd's protocol on its raw channel: it asks for
// a socket 1,000 times with a 60,000-byte address, which herd answers
// (with an error naming the address), and never reads.
func helperFloodListen() {
	fd, _ := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	ch := os.NewFile(uintptr(fd), "channel")
	addr := "127.0.0.1:" + strings.Repeat("9", 60000)
	for i := 1; i <= 1000; i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD","act":"listen","seq":%d,"network":"tcp","address":%q}`+"\n", i, addr)
		if _, err := ch.Write([]byte(line)); err != nil {
			break
		}
	}
	time.Sleep(time.Minute)
}

// hostileCommand runs helper as worker 1 and helperHTTP as the others.
func hostileCommand(helper string) func(int) *proc.Cmd {
	return func(id int) *proc.Cmd {
		if id == 1 {
			return workerCommand(helper)(id)
		}
		return workerCommand("http")(id)
	}
}

// workersWithin is Primary.Workers, failing the test if it takes longer
// than d (the primary's loop is stuck).
func (h *harness) workersWithin(d time.Duration) []cluster.WorkerInfo {
	h.t.Helper()
	type result struct {
		ws  []cluster.WorkerInfo
		err error
	}
	res := make(chan result, 1)
	go func() {
		ws, err := h.p.Workers()
		res <- result{ws, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			h.t.Fatal(r.err)
		}
		return r.ws
	case <-time.After(d):
		h.t.Fatalf("Workers did not answer within %s: the primary's loop is stuck", d)
		return nil
	}
}

// TestHostileWorkerNeverReads: a worker that makes herd queue more than
// Config.MaxQueue for it and never reads is cut off with the reason
// logged; meanwhile and afterwards the loop answers, a killed good worker
// is replaced, and Stop works. (Before the bound, the loop waited in the
// channel's writer for as long as that worker lived.)
func TestHostileWorkerNeverReads(t *testing.T) {
	h := startWith(t, cluster.Config{Workers: 2, MaxRestarts: -1, Command: hostileCommand("floodlisten")})
	h.waitReady(1) // worker 2; worker 1 never listens
	e := h.eventWith(cluster.EventError, 1, "channel: killing the worker")
	if !errors.Is(e.Err, ipc.ErrQueueFull) {
		t.Fatalf("worker 1 was cut off with %v, want ErrQueueFull", e.Err)
	}
	t.Logf("logged: %s", e)
	listenErrs := 0
	for _, e := range h.eventsOf(cluster.EventError) {
		if e.WorkerID == 1 && e.Addr != "" {
			listenErrs++
			if n := len(e.String()); n > 2048 {
				t.Errorf("a listen error's log line is %d bytes: the address is not clipped", n)
			}
		}
	}
	if listenErrs > 20 {
		t.Errorf("%d listen errors of worker 1 logged, want at most 20", listenErrs)
	}
	h.waitReady(1) // worker 1's replacement
	var good cluster.WorkerInfo
	for _, w := range h.workersWithin(10 * time.Second) {
		if w.ID == 2 {
			good = w
		}
	}
	if good.Pid == 0 {
		t.Fatal("worker 2 is gone")
	}
	syscall.Kill(good.Pid, syscall.SIGKILL)
	h.waitReady(1) // worker 2's replacement
	for _, w := range h.workersWithin(10 * time.Second) {
		if w.ID <= 2 {
			t.Fatalf("worker %d is still listed: %+v", w.ID, w)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// helperReadDie serves with the library while its channel's writer is
// kept busy with big messages, and on its first connection reads the
// request and dies at once, without answering.
func helperReadDie() {
	ch := cluster.Channel()
	go func() {
		big := strings.Repeat("b", 512<<10)
		for ch.Send(big) == nil {
		}
	}()
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		os.Exit(3)
	}
	c, err := l.Accept()
	if err != nil {
		os.Exit(4)
	}
	c.Read(make([]byte, 4096))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// TestHostileReadThenDie: a Go worker that reads a connection's request
// and dies before answering makes the client see the connection end, not
// wait on another worker for a request that was consumed. (Before, the
// worker's ACK could wait behind a flush; the primary, seeing no ACK,
// handed the connection to another worker, and the client hung.)
func TestHostileReadThenDie(t *testing.T) {
	testutil.CheckFDs(t)
	h := start(t, cluster.Config{Workers: 2, MaxRestarts: -1}, "readdie")
	h.waitReady(2)
	for i := range 3 {
		if i > 0 {
			h.waitReady(1) // the replacement of the worker that died
		}
		c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(h.url(), "http://"), "/"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		n, err := c.Read(make([]byte, 1))
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d: no close within 20s: it went to another worker after its request was read", i)
		}
		if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("connection %d: read %d bytes, %v; want end of file or reset", i, n, err)
		}
	}
}

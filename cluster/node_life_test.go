package cluster_test

// Ports of Node's own cluster tests (node-protocol.md §9) that apply to a
// primary, against real Node workers.

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// nodeLife serves http, tells the primary its port once listening, and
// obeys the primary: {echo} is sent back, {exit: N} exits with N, {do}
// disconnects or kills the worker through Node's cluster API, drops the
// channel, or closes the server.
const nodeLife = `const cluster = require('cluster');
const srv = require('http').createServer((req, res) => res.end(String(process.pid)));
srv.listen(process.env.PORT || 0, () => process.send({port: srv.address().port, pid: process.pid, id: cluster.worker.id}));
srv.on('error', (e) => process.send({err: e.code, pid: process.pid}));
process.on('message', (m) => {
  if (m.echo !== undefined) process.send({echo: m.echo, pid: process.pid});
  if (m.exit !== undefined) process.exit(m.exit);
  if (m.do === 'disconnect') cluster.worker.disconnect();
  if (m.do === 'kill') cluster.worker.kill();
  if (m.do === 'drop') process.disconnect();
  if (m.do === 'close') srv.close(() => process.send({closed: process.pid}));
});
`

// inbox collects the user messages workers send.
type inbox struct {
	mu   sync.Mutex
	msgs []map[string]any
}

func (b *inbox) onMessage(_ cluster.WorkerInfo, m *ipc.Message) {
	var v map[string]any
	m.Decode(&v)
	m.CloseHandle()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, v)
}

// find returns the first message with key set, or nil.
func (b *inbox) find(key string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if _, ok := m[key]; ok {
			return m
		}
	}
	return nil
}

// exitOf returns the exit event of pid, if there was one.
func (h *harness) exitOf(pid int) (cluster.Event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.Type == cluster.EventExit && e.Pid == pid {
			return e, true
		}
	}
	return cluster.Event{}, false
}

func (h *harness) waitExit(pid int) cluster.Event {
	h.t.Helper()
	var e cluster.Event
	testutil.Eventually(h.t, "exit of "+strconv.Itoa(pid), func() bool {
		var ok bool
		e, ok = h.exitOf(pid)
		return ok
	})
	return e
}

// test-cluster-message, test-cluster-listening-port: process.send reaches
// OnMessage, Primary.Send reaches process.on('message'), and the port a
// worker sees for listen(0) is the primary's.
func TestNodeMessages(t *testing.T) {
	testutil.CheckFDs(t)
	var in inbox
	h := startNode(t, cluster.Config{Workers: 1, OnMessage: in.onMessage}, nodeLife)
	h.waitReady(1)
	testutil.Eventually(t, "the port message", func() bool { return in.find("port") != nil })
	if got, want := strconv.Itoa(int(in.find("port")["port"].(float64))), h.ports()[0]; got != want {
		t.Fatalf("worker listens on port %s, primary on %s", got, want)
	}
	w := h.workers()[0]
	if id := int(in.find("port")["id"].(float64)); id != w.ID {
		t.Fatalf("cluster.worker.id = %d, want %d", id, w.ID)
	}
	if err := h.p.Send(w.ID, map[string]any{"echo": "héllo"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the echo", func() bool { return in.find("echo") != nil })
	if e := in.find("echo"); e["echo"] != "héllo" || int(e["pid"].(float64)) != w.Pid {
		t.Fatalf("echo: %v", e)
	}
	stopClean(t, h)
}

// test-cluster-eaddrinuse, test-cluster-shared-handle-bind-error: a port
// in use reaches the worker as EADDRINUSE.
func TestNodeAddressInUse(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", ":0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			var in inbox
			h := startNode(t, cluster.Config{Workers: 1, Policy: pol, OnMessage: in.onMessage}, nodeLife, "PORT="+port)
			testutil.Eventually(t, "the error message", func() bool { return in.find("err") != nil })
			if e := in.find("err"); e["err"] != "EADDRINUSE" {
				t.Fatalf("worker got %v", e)
			}
			if h.count(cluster.EventReady) != 0 {
				t.Fatal("a worker that could not listen is ready")
			}
		})
	}
}

// test-cluster-worker-death: exit(42) is an exit event with code 42, a
// crash: the worker is replaced.
func TestNodeWorkerExitCode(t *testing.T) {
	testutil.CheckFDs(t)
	h := startNode(t, cluster.Config{Workers: 1}, nodeLife)
	h.waitReady(1)
	w := h.workers()[0]
	h.p.Send(w.ID, map[string]any{"exit": 42})
	e := h.waitExit(w.Pid)
	if e.Code != 42 || e.Signal != 0 || e.Expected {
		t.Fatalf("exit: %s", e)
	}
	h.waitReady(1)
	if h.count(cluster.EventRestart) != 1 {
		t.Fatalf("restarts: %d", h.count(cluster.EventRestart))
	}
}

// test-cluster-worker-kill: SIGKILL from outside is a crash.
func TestNodeWorkerKilled(t *testing.T) {
	testutil.CheckFDs(t)
	h := startNode(t, cluster.Config{Workers: 2}, nodeLife)
	h.waitReady(2)
	victim := h.workers()[0]
	syscall.Kill(victim.Pid, syscall.SIGKILL)
	e := h.waitExit(victim.Pid)
	if e.Signal != syscall.SIGKILL || e.Expected {
		t.Fatalf("exit: %s", e)
	}
	h.waitReady(1)
	url := "http://" + h.local() + "/"
	spread(t, h, func() string { return get(t, url) })
}

// test-cluster-kill-disconnect, test-cluster-disconnect-exitedAfterDisconnect-race,
// test-cluster-process-disconnect: a worker that disconnects or kills
// itself through Node's cluster API exits 0 as expected (the primary acks
// exitedAfterDisconnect) and is not replaced; one that drops its channel
// exits 0 unexpectedly and is.
func TestNodeWorkerLeaves(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, how := range []string{"disconnect", "kill", "drop"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, KillTimeout: time.Minute}, nodeLife)
			h.waitReady(2)
			ws := h.workers()
			h.p.Send(ws[0].ID, map[string]any{"do": how})
			e := h.waitExit(ws[0].Pid)
			if e.Code != 0 || e.Signal != 0 || e.Expected != (how != "drop") {
				t.Fatalf("exit: %s", e)
			}
			if how == "drop" {
				h.waitReady(1)
			} else {
				time.Sleep(300 * time.Millisecond)
				if n := len(h.workers()); n != 1 || h.count(cluster.EventRestart) != 0 {
					t.Fatalf("%d workers, %d restarts", n, h.count(cluster.EventRestart))
				}
			}
			url := "http://" + h.local() + "/"
			spread(t, h, func() string { return get(t, url) })
		})
	}
}

// test-cluster-worker-disconnect, test-cluster-disconnect: a stop sends
// every worker disconnect; each closes its servers and exits 0 by itself.
func TestNodeStop(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol, KillTimeout: time.Minute}, nodeTwoPorts)
			h.waitReady(2)
			stopClean(t, h)
			if n := h.count(cluster.EventExit); n != 2 || h.count(cluster.EventRestart) != 0 {
				t.Fatalf("exits %d, restarts %d", n, h.count(cluster.EventRestart))
			}
		})
	}
}

// test-cluster-net-server-drop-connection, test-cluster-worker-handle-close:
// a worker at its maxConnections declines a connection, which goes to
// another worker.
func TestNodeDeclinedGoesElsewhere(t *testing.T) {
	testutil.CheckFDs(t)
	h := startNode(t, cluster.Config{Workers: 2}, nodeMaxConn, "MAXCONN=1")
	h.waitReady(2)
	addr := h.local()
	url := "http://" + addr + "/"
	spread(t, h, func() string { return get(t, url) })
	handed := h.stats().Totals.Handed
	held, err := net.Dial("tcp", addr) // takes one worker's only connection
	if err != nil {
		t.Fatal(err)
	}
	// Once handed over, it reaches its worker before any later connection
	// handed to that worker (one channel, in order).
	testutil.Eventually(t, "the held connection to be handed over", func() bool { return h.stats().Totals.Handed > handed })
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		seen[get(t, url)]++
	}
	if len(seen) != 1 {
		t.Fatalf("with one worker full, answers came from %v", seen)
	}
	held.Close()
	spread(t, h, func() string { return get(t, url) })
	stopClean(t, h)
}

// maxConnections under shared scheduling: Node itself closes what it
// cannot take, so the test only checks serving below the limit.
func TestNodeMaxConnShared(t *testing.T) {
	testutil.CheckFDs(t)
	h := startNode(t, cluster.Config{Workers: 2, Policy: cluster.Shared}, nodeMaxConn, "MAXCONN=100")
	h.waitReady(2)
	url := "http://" + h.local() + "/"
	spread(t, h, func() string { return get(t, url) })
	stopClean(t, h)
}

// helperNodePrimary is a primary of 2 Node workers running HERD_TEST_JS;
// it prints "ready PID" for each ready worker.
func helperNodePrimary() {
	cfg := cluster.Config{Workers: 2, Command: func(int) *proc.Cmd {
		c := proc.Command("node", os.Getenv("HERD_TEST_JS"))
		c.Stderr = os.Stderr
		return c
	}}
	cfg.OnEvent = func(e cluster.Event) {
		if e.Type == cluster.EventReady {
			os.Stdout.WriteString("ready " + strconv.Itoa(e.Pid) + "\n")
		}
	}
	cluster.Run(context.Background(), cfg)
}

// test-cluster-primary-kill: Node workers do not outlive their primary.
func TestNodePrimaryKilledTakesWorkers(t *testing.T) {
	t.Parallel()
	nodeBin(t)
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv("nodeprimary", "HERD_TEST_JS="+writeApp(t, nodeHTTP))
	c.Stderr = os.Stderr
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c.Stdout = out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Wait()
	pids := readyPids(t, out.Name(), 2)
	c.Kill()
	for _, pid := range pids {
		testutil.Eventually(t, "node worker "+strconv.Itoa(pid)+" to die", func() bool { return gone(pid) })
	}
}

// test-cluster-worker-handle-close: a worker that closes its server gets
// no more connections (the primary drops it from the socket's routing on
// close), and none is lost.
func TestNodeServerCloseStopsRouting(t *testing.T) {
	testutil.CheckFDs(t)
	var in inbox
	h := startNode(t, cluster.Config{Workers: 2, OnMessage: in.onMessage}, nodeLife)
	h.waitReady(2)
	url := "http://" + h.local() + "/"
	l := startLoad(url)
	time.Sleep(200 * time.Millisecond)
	ws := h.workers()
	h.p.Send(ws[0].ID, map[string]any{"do": "close"})
	testutil.Eventually(t, "the server to close", func() bool { return in.find("closed") != nil })
	// Node's close message came before "closed" and is queued for the
	// loop (user messages are not): a call on the loop returns once the
	// loop has taken the worker out of routing.
	h.stats()
	time.Sleep(200 * time.Millisecond) // more load after that
	l.finish(t)
	for i := 0; i < 20; i++ {
		if pid := get(t, url); pid != strconv.Itoa(ws[1].Pid) {
			t.Fatalf("answer from %s after worker %d closed its server", pid, ws[0].Pid)
		}
	}
}

package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/metrics"
	"github.com/herdhq/herd/proc"
)

func TestMain(m *testing.M) {
	testutil.Main(m, testutil.Helpers{"http": helperHTTP})
}

// helperHTTP serves "id pid" on a round-robin socket, and sends its
// primary a user message for each request.
func helperHTTP() {
	l, err := cluster.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		cluster.Channel().Send(map[string]string{"hello": "primary"})
		fmt.Fprintf(w, "%d %d", cluster.WorkerID(), os.Getpid())
	})
	cluster.Serve(&http.Server{Handler: h}, l)
}

// cluster runs a primary of n helper workers and a metrics server for it.
type testCluster struct {
	t       *testing.T
	p       *cluster.Primary
	srv     *metrics.Server
	addr    chan string
	ready   chan struct{}
	done    chan error
	cancel  context.CancelFunc
	workers string
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, addr: make(chan string, 1), ready: make(chan struct{}, 64), done: make(chan error, 1)}
	cfg := cluster.Config{Workers: n, NoSignals: true, Policy: cluster.LeastConn,
		OnMessage: func(_ cluster.WorkerInfo, m *ipc.Message) { m.CloseHandle() },
		Command: func(int) *proc.Cmd {
			cmd := proc.Command(os.Args[0])
			cmd.Env = testutil.HelperEnv("http")
			cmd.Stderr = os.Stderr
			return cmd
		},
		OnEvent: func(e cluster.Event) {
			switch {
			case e.Type == cluster.EventListening:
				select {
				case c.addr <- e.Addr:
				default:
				}
			case e.Type == cluster.EventReady:
				c.ready <- struct{}{}
			}
		},
	}
	c.p = cluster.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- c.p.Run(ctx) }()
	srv, err := metrics.Listen("127.0.0.1:0", c.p)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = srv
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
		cancel()
		select {
		case <-c.done:
		case <-time.After(60 * time.Second):
			t.Error("the primary did not stop")
		}
	})
	for i := 0; i < n; i++ {
		c.waitReady()
	}
	c.workers = "http://" + <-c.addr + "/"
	return c
}

func (c *testCluster) waitReady() {
	c.t.Helper()
	select {
	case <-c.ready:
	case <-time.After(30 * time.Second):
		c.t.Fatal("a worker was not ready in time")
	}
}

// scrape returns the metrics as "name{labels}" → value.
func (c *testCluster) scrape() map[string]float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.srv.Addr() + metrics.Path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	return parse(c.t, resp.Body)
}

// parse reads the text format's samples.
func parse(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// get makes one request on a fresh connection and returns "id pid".
func get(t *testing.T, url string) []string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Fields(string(b))
}

// eventually scrapes until cond holds, for up to 30 s.
func (c *testCluster) eventually(what string, cond func(map[string]float64) bool) map[string]float64 {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := c.scrape()
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s; metrics:\n%v", what, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetricsFollowConnectionsAndRestarts(t *testing.T) {
	testutil.CheckFDs(t)
	c := startCluster(t, 2)
	m := c.scrape()
	for _, name := range []string{`herd_workers{state="ready"}`, `herd_workers_desired`, `herd_worker_starts_total`} {
		if m[name] != 2 {
			t.Errorf("%s = %v, want 2", name, m[name])
		}
	}
	for _, w := range []string{"1", "2"} {
		l := `{slot="` + w + `",worker="` + w + `"}`
		if m["herd_worker_resident_memory_bytes"+l] <= 0 {
			t.Errorf("no memory for worker %s", w)
		}
		if _, ok := m["herd_worker_cpu_seconds_total"+l]; !ok {
			t.Errorf("no CPU time for worker %s", w)
		}
		if m[`herd_worker_state{slot="`+w+`",state="ready",worker="`+w+`"}`] != 1 {
			t.Errorf("worker %s not ready in the metrics", w)
		}
	}
	if m["process_resident_memory_bytes"] <= 0 || m["go_goroutines"] <= 0 {
		t.Error("no process or Go metrics for the primary")
	}

	var victim string
	for i := 0; i < 10; i++ {
		victim = get(t, c.workers)[1]
	}
	// A worker reports a closed connection after it has answered: the
	// report may come after the answer, and the open count drop later.
	m = c.eventually("10 connections and messages, and no open connection", func(m map[string]float64) bool {
		return m["herd_connections_handed_total"] == 10 && m[`herd_ipc_messages_received_total{kind="user"}`] == 10 &&
			m[`herd_worker_connections_open{slot="1",worker="1"}`] == 0 && m[`herd_worker_connections_open{slot="2",worker="2"}`] == 0
	})
	if h := m[`herd_worker_connections_handed_total{slot="1",worker="1"}`] + m[`herd_worker_connections_handed_total{slot="2",worker="2"}`]; h != 10 {
		t.Errorf("per-worker connections add up to %v, want 10", h)
	}
	if m[`herd_worker_connections_open{slot="1",worker="1"}`] != 0 {
		t.Errorf("worker 1 has %v open connections after its requests ended", m[`herd_worker_connections_open{slot="1",worker="1"}`])
	}

	pid, _ := strconv.Atoi(victim)
	syscall.Kill(pid, syscall.SIGKILL)
	c.waitReady()
	m = c.eventually("a restart", func(m map[string]float64) bool {
		return m["herd_restarts_total"] == 1 && m[`herd_workers{state="ready"}`] == 2
	})
	if m["herd_worker_crashes_total"] != 1 || m["herd_worker_starts_total"] != 3 || m["herd_connections_handed_total"] != 10 {
		t.Errorf("after a crash: crashes %v, starts %v, connections %v", m["herd_worker_crashes_total"],
			m["herd_worker_starts_total"], m["herd_connections_handed_total"])
	}
	restarted := 0.0
	for _, s := range []string{"1", "2"} {
		restarted += m[`herd_slot_restarts_total{slot="`+s+`"}`]
	}
	if restarted != 1 {
		t.Errorf("slot restarts add up to %v, want 1", restarted)
	}
	live := 0
	for name := range m {
		if strings.HasPrefix(name, "herd_worker_info{") {
			live++
			if strings.Contains(name, `pid="`+victim+`"`) {
				t.Errorf("the dead worker's series is still there: %s", name)
			}
		}
	}
	if live != 2 {
		t.Errorf("%d herd_worker_info series, want 2", live)
	}
}

package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/proc"
)

func TestMain(m *testing.M) {
	testutil.Main(m, testutil.Helpers{
		"http":        helperHTTP,
		"crash":       func() { os.Exit(1) },
		"leave":       helperLeave,
		"primary":     helperPrimary,
		"garbage":     helperGarbage,
		"nodeprimary": helperNodePrimary,
		"environ":     helperEnviron,
		"bloat":       helperBloat,
		"spin":        helperSpin,
		"hoard":       helperHoard,
		"floodlisten": helperFloodListen,
		"readdie":     helperReadDie,
	})
}

// helperHTTP serves "id pid" on HERD_TEST_ADDR.
func helperHTTP() {
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	if err := cluster.Serve(&http.Server{Handler: http.HandlerFunc(hello)}, l); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(4)
	}
}

// hello answers "id pid"; /slow?d=DURATION waits first.
func hello(w http.ResponseWriter, r *http.Request) {
	if d, err := time.ParseDuration(r.URL.Query().Get("d")); err == nil {
		time.Sleep(d)
	}
	fmt.Fprintf(w, "%d %d", cluster.WorkerID(), os.Getpid())
}

// helperLeave listens, then leaves as if it hit a fatal error, and serves
// until told to stop.
func helperLeave() {
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		os.Exit(3)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		cluster.Leave(fmt.Errorf("test: fatal"))
	}()
	cluster.Serve(&http.Server{Handler: http.HandlerFunc(hello)}, l)
}

// helperGarbage writes a line that is not JSON on its channel, then waits
// to be killed.
func helperGarbage() {
	fd, _ := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	os.NewFile(uintptr(fd), "channel").Write([]byte("this is not json\n"))
	time.Sleep(time.Minute)
}

// helperPrimary is a primary process of 2 http workers that prints
// "ready PID" for each ready worker.
func helperPrimary() {
	cfg := cluster.Config{Workers: 2, Command: workerCommand("http")}
	cfg.OnEvent = func(e cluster.Event) {
		if e.Type == cluster.EventReady {
			fmt.Printf("ready %d\n", e.Pid)
		}
	}
	cluster.Run(context.Background(), cfg)
}

func workerCommand(helper string) func(int) *proc.Cmd {
	return func(int) *proc.Cmd {
		c := proc.Command(os.Args[0])
		c.Env = testutil.HelperEnv(helper, "HERD_TEST_ADDR=127.0.0.1:0")
		c.Stderr = os.Stderr
		return c
	}
}

// harness runs a primary in the background and records its events.
type harness struct {
	t      *testing.T
	p      *cluster.Primary
	errc   chan error
	cancel context.CancelFunc
	mu     sync.Mutex
	events []cluster.Event
	addr   string
	ready  chan struct{}
}

func start(t *testing.T, cfg cluster.Config, helper string) *harness {
	t.Helper()
	cfg.Command = workerCommand(helper)
	return startWith(t, cfg)
}

// startWith runs a primary for cfg, whose Command is set.
func startWith(t *testing.T, cfg cluster.Config) *harness {
	t.Helper()
	h := &harness{t: t, errc: make(chan error, 1), ready: make(chan struct{}, 64)}
	cfg.NoSignals = true
	cfg.OnEvent = h.record
	h.p = cluster.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- h.p.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) record(e cluster.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	if e.Type == cluster.EventListening {
		h.addr = e.Addr
	}
	if e.Type == cluster.EventReady {
		h.ready <- struct{}{}
	}
}

func (h *harness) waitReady(n int) {
	h.t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-h.ready:
		case <-time.After(30 * time.Second):
			h.t.Fatalf("only %d of %d workers ready", i, n)
		}
	}
}

func (h *harness) url() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "http://" + h.addr + "/"
}

func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.errc:
		h.errc <- err
		return err
	case <-time.After(60 * time.Second):
		h.t.Fatal("primary did not stop")
		return nil
	}
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func get(t *testing.T, url string) string {
	t.Helper()
	body, err := tryGet(url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// tryGet is get for goroutines other than the test's, which must not
// call t.Fatal.
func tryGet(url string) (string, error) {
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestRoundRobinSpreads(t *testing.T) {
	t.Parallel()
	h := start(t, cluster.Config{Workers: 4}, "http")
	h.waitReady(4)
	counts := map[string]int{}
	for i := 0; i < 1000; i++ {
		counts[strings.Fields(get(t, h.url()))[0]]++
	}
	if len(counts) != 4 {
		t.Fatalf("requests reached %d workers: %v", len(counts), counts)
	}
	lo, hi := 1000, 0
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	if float64(hi)/float64(lo) > 1.05 {
		t.Fatalf("uneven spread %v", counts)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

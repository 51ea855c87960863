package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/state"
)

// helperState is a Go worker that counts requests in the store that herd
// run --state names: it answers "COUNT URL".
func helperState() {
	serveWithStore(func(st state.Store) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := st.Incr(r.Context(), "hits", 1)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "%d %s\n", n, os.Getenv(state.EnvURL))
		})
	})
}

// serveWithStore opens the store herd names, listens on HERD_TEST_ADDR
// through herd, and serves what handler makes of the store.
func serveWithStore(handler func(state.Store) http.Handler) {
	st, err := state.Open(context.Background(), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "state:", err)
		os.Exit(3)
	}
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	cluster.Serve(&http.Server{Handler: handler(st)}, l)
}

// TestRunState runs Go workers that share a counter, in herd's own store
// (the default, and --state embedded://) and in Redis (--state redis://).
func TestRunState(t *testing.T) {
	for _, tc := range []struct{ name, url string }{{"default", ""}, {"embedded", "embedded://"}, {"redis", "redis"}} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckFDs(t)
			url := tc.url
			if url == "redis" {
				url = startRedis(t)
			}
			args := []string{"-n", "2", "-l", "127.0.0.1:0"}
			if url != "" {
				args = append(args, "--state", url)
			}
			env := []string{testutil.EnvHelper + "=state", "HERD_TEST_ADDR=127.0.0.1:0"}
			h := startHerd(t, env, append(args, "--", testBinary(t))...)
			u := url2(t, h)
			for i := 1; i <= 10; i++ {
				if got, want := mustGet(t, u), fmt.Sprintf("%d %s\n", i, url); got != want {
					t.Fatalf("request %d: got %q, want %q", i, got, want)
				}
			}
		})
	}
}

func url2(t *testing.T, h *herdRun) string { return url(t, h.waitWorkers(2)) }

func TestRunStateRejectsUnknownScheme(t *testing.T) {
	t.Parallel()
	h := startHerd(t, nil, "--state", "memcached://x", "--", "true")
	if code := h.wait(liveness); code != 2 || !strings.Contains(h.stderr.String(), "--state") {
		t.Fatalf("exit %d, stderr %q", code, h.stderr.String())
	}
}

// startRedis runs a redis-server without persistence on a free port
// until the test ends, and returns its URL; it skips the test when
// redis-server is not installed.
func startRedis(t *testing.T) string {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it)")
	}
	port := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "redis://127.0.0.1:" + port + "/0"
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := state.Open(context.Background(), url)
		if err == nil {
			st.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

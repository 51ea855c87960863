package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// TestExample runs the example as a cluster of 2 workers, first on the
// embedded store and then, with only the URL changed, on a real Redis
// server: visits are counted once across workers, and a chat message
// reaches every worker.
func TestExample(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "state")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Run("embedded", func(t *testing.T) { check(t, bin, "embedded://") })
	t.Run("redis", func(t *testing.T) { check(t, bin, startRedis(t)) })
}

func check(t *testing.T, bin, url string) {
	addr := testutil.FreeAddr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "-n", "2", "-addr", addr, "-state", url)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	base := "http://" + addr
	visit := regexp.MustCompile(`^visit (\d+) \(worker (\d+)\)\n$`)
	workers := map[string]bool{}
	for i := 1; len(workers) < 2; i++ {
		m := visit.FindStringSubmatch(request(t, "GET", base+"/", ""))
		if m == nil || m[1] != strconv.Itoa(i) {
			t.Fatalf("visit %d answered %q", i, m)
		}
		workers[m[2]] = true
		if i == 1000 {
			t.Fatalf("1000 visits reached only workers %v", workers)
		}
	}
	request(t, "POST", base+"/chat", "hello everyone")
	heard := map[string]bool{}
	testutil.Eventually(t, "both workers to hear the message", func() bool {
		body := request(t, "GET", base+"/chat", "")
		if strings.Contains(body, "hello everyone") {
			heard[strings.Fields(body)[1]] = true
		}
		return len(heard) == 2
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the example exited with %v after SIGTERM; output:\n%s", err, out.String())
	}
}

// client opens a connection per request, so that requests spread over
// the workers.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// request sends one request, retrying while the cluster starts.
func request(t *testing.T, method, url, body string) string {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var req *http.Request
		req, err = http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
			}
			return string(b)
		}
	}
	t.Fatalf("%s %s: %v", method, url, err)
	return ""
}

// startRedis runs a redis-server without persistence on a free port
// until the test ends, and returns its URL; it skips the test when
// redis-server is not installed.
func startRedis(t *testing.T) string {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (.ci/run installs it)")
	}
	addr := testutil.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
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
	testutil.Eventually(t, "redis-server", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return fmt.Sprintf("redis://%s/0", addr)
}

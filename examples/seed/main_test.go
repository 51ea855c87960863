package main

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

func TestSeed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "seed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := testutil.FreeAddr(t)
	var out testutil.SyncBuffer
	cmd := exec.Command(bin, "-n", "2", "-addr", addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	for i := 0; i < 4; i++ {
		if body := getRetry(t, "http://"+addr+"/"); body != "hello world\n" {
			t.Fatalf("got %q", body)
		}
	}
	testutil.Eventually(t, "numReqs = 4", func() bool { return strings.Contains(out.String(), "numReqs = 4") })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("primary exited with %v after SIGTERM; output:\n%s", err, out.String())
	}
}

// getRetry gets url, retrying while the cluster starts.
func getRetry(t *testing.T, url string) string {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var resp *http.Response
		if resp, err = http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
	}
	t.Fatal(err)
	return ""
}

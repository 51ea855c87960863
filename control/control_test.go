package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m, nil) }

// handler records what it was asked.
type handler struct {
	scaled  int
	program string // the program of the last scale
}

func (h *handler) Status(program string) (*control.Status, error) {
	if program != "" {
		return nil, control.BadRequest(errors.New("no program " + program))
	}
	return &control.Status{Name: "t", Workers: []control.Worker{{ID: 1, Pid: 42, State: "ready"}}}, nil
}
func (h *handler) Reload(string) error { return errors.New("no reload today") }
func (h *handler) Scale(program string, n int) error {
	h.scaled, h.program = n, program
	return nil
}
func (h *handler) Stop() error { return nil }

// serve runs a server in a private directory until the test ends.
func serve(t *testing.T, h control.Handler) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "t.sock")
	s, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(h) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return path
}

func call(t *testing.T, path string, req control.Request) (*control.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return control.Call(ctx, path, req)
}

func TestRequests(t *testing.T) {
	testutil.CheckFDs(t)
	h := &handler{}
	path := serve(t, h)
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v, want mode 0600", fi.Mode(), err)
	}
	resp, err := call(t, path, control.Request{Cmd: control.CmdStatus})
	if err != nil || resp.Status == nil || resp.Status.Workers[0].Pid != 42 {
		t.Fatalf("status: %+v, %v", resp, err)
	}
	if _, err := call(t, path, control.Request{Cmd: control.CmdScale, N: 2, Program: "web"}); err != nil || h.scaled != 2 || h.program != "web" {
		t.Fatalf("scale web 2: %v, scaled %d %q", err, h.scaled, h.program)
	}
	if _, err := call(t, path, control.Request{Cmd: control.CmdScale, N: 3}); err != nil || h.scaled != 3 {
		t.Fatalf("scale: %v, scaled to %d", err, h.scaled)
	}
	if _, err := call(t, path, control.Request{Cmd: control.CmdStatus, Program: "x"}); !errors.Is(err, control.ErrBadRequest) || err.Error() != "no program x" {
		t.Fatalf("status of a bad program: %v, want a bad request", err)
	}
	if _, err := call(t, path, control.Request{Cmd: control.CmdReload}); err == nil || err.Error() != "no reload today" || errors.Is(err, control.ErrBadRequest) {
		t.Fatalf("reload: %v, want the handler's error", err)
	}
	if _, err := call(t, path, control.Request{Cmd: "dance"}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestSecondServerRefused(t *testing.T) {
	testutil.CheckFDs(t)
	path := serve(t, &handler{})
	if s, err := control.Listen(path); err == nil || !strings.Contains(err.Error(), "in use") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a second server on a live socket: %v, want in use", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	path := filepath.Join(dir, "t.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody serves it
	s, err := control.Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	s.Close()
}

func TestOpenDirectoryRefused(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if s, err := control.Listen(filepath.Join(dir, "t.sock")); err == nil || !strings.Contains(err.Error(), "open to others") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a socket in an open directory: %v, want a refusal", err)
	}
}

func TestNotRunning(t *testing.T) {
	_, err := call(t, filepath.Join(t.TempDir(), "none.sock"), control.Request{Cmd: control.CmdStatus})
	if !errors.Is(err, control.ErrNotRunning) {
		t.Fatalf("no server: %v, want ErrNotRunning", err)
	}
}

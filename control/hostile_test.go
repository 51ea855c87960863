package control_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/testutil"
)

// dialRaw opens a connection that sends nothing yet.
func dialRaw(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readResponse reads the one line herd answers on c.
func readResponse(t *testing.T, c net.Conn) control.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, _ := bufio.NewReader(c).ReadBytes('\n')
	var r control.Response
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the connection stays open after the answer %+v", r)
	}
	return r
}

// TestHostileIdleClients: clients that connect and send nothing hold at
// most MaxConns connections; one more is answered busy and closed at
// once, and Call gets through as soon as a connection is free.
func TestHostileIdleClients(t *testing.T) {
	testutil.CheckFDs(t)
	path := serve(t, &handler{})
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; i < control.MaxConns; i++ {
		idle = append(idle, dialRaw(t, path))
	}
	// The server accepts in the order of connection: this one is the one too many.
	extra := dialRaw(t, path)
	defer extra.Close()
	if r := readResponse(t, extra); !r.Busy || !strings.Contains(r.Error, "busy") {
		t.Fatalf("connection %d: %+v, want busy", control.MaxConns+1, r)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		idle[0].Close()
	}()
	if resp, err := call(t, path, control.Request{Cmd: control.CmdStatus}); err != nil || resp.Status == nil {
		t.Fatalf("status with the server full, then one connection free: %+v, %v", resp, err)
	}
}

// TestHostileLongLine: a request line past MaxRequest is answered with
// an error and the connection closed; herd stops reading it there.
func TestHostileLongLine(t *testing.T) {
	testutil.CheckFDs(t)
	path := serve(t, &handler{})
	c := dialRaw(t, path)
	defer c.Close()
	sent := make(chan int, 1)
	go func() {
		n, _ := c.Write(bytes.Repeat([]byte("x"), 4<<20)) // no newline
		sent <- n
	}()
	r := readResponse(t, c)
	if r.OK || !strings.Contains(r.Error, "longer than 65536 bytes") {
		t.Fatalf("a 4 MiB line: %+v, want a refusal naming the limit", r)
	}
	if n := <-sent; n >= 4<<20 {
		t.Fatalf("herd took all %d bytes of an endless line", n)
	}
}

// TestHostileCloseDropsIdleClients: Close does not wait RequestTimeout
// for clients that never send their request.
func TestHostileCloseDropsIdleClients(t *testing.T) {
	testutil.CheckFDs(t)
	dir := t.TempDir()
	s, err := control.Listen(dir + "/run/t.sock")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(&handler{}) }()
	c := dialRaw(t, s.Path())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := control.Call(ctx, s.Path(), control.Request{Cmd: control.CmdStatus}); err != nil {
		t.Fatal(err) // the idle one is being served by now
	}
	start := time.Now()
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= control.RequestTimeout {
		t.Fatalf("Close waited %s for an idle client", d)
	}
}

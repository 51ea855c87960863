package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

// A worker's message is logged, cut at maxLoggedMessage bytes, and a
// handle that came with it is closed.
func TestLogMessage(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	w := cluster.WorkerInfo{ID: 3, Pid: 42}
	logMessage(log, w, &ipc.Message{Data: json.RawMessage(`{"a":1}`)})
	if !strings.Contains(out.String(), `msg=message worker=3 pid=42 data="{\"a\":1}"`) {
		t.Fatalf("log: %s", out.String())
	}
	out.Reset()
	big := `"` + strings.Repeat("x", 2*maxLoggedMessage) + `"`
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logMessage(log, w, &ipc.Message{Data: json.RawMessage(big), Handle: l, HandleType: "net.Server"})
	line := out.String()
	if len(line) > maxLoggedMessage+200 || !strings.Contains(line, "bytes=8194") || !strings.Contains(line, `handle="net.Server (closed)"`) {
		t.Fatalf("log (%d bytes): %.300s", len(line), line)
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("the handle is still open")
	}
}

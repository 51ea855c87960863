package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

var notLogged = regexp.MustCompile(`msg="messages not logged" worker=(\d+) pid=\d+ count=(\d+)`)

// notLoggedCounts sums the "messages not logged" counts per worker.
func notLoggedCounts(log string) map[int]int {
	out := map[int]int{}
	for _, m := range notLogged.FindAllStringSubmatch(log, -1) {
		id, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		out[id] += n
	}
	return out
}

// TestHostileMessageFlood: a worker sending 20,000 messages at once gets
// at most its burst and rate logged, the others counted in "messages not
// logged" lines that name it, and another worker's messages are still
// logged; a handle on a message not logged is closed all the same.
func TestHostileMessageFlood(t *testing.T) {
	var out testutil.SyncBuffer
	l := newMsgLog(slog.New(slog.NewTextHandler(&out, nil)), 100)
	flooder, quiet := cluster.WorkerInfo{ID: 1, Pid: 41}, cluster.WorkerInfo{ID: 2, Pid: 42}
	const n = 20000
	start := time.Now()
	for i := 0; i < n; i++ {
		l.message(flooder, &ipc.Message{Data: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)})
	}
	elapsed := time.Since(start)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.message(flooder, &ipc.Message{Data: json.RawMessage(`"last"`), Handle: ln, HandleType: "net.Server"})
	l.message(quiet, &ipc.Message{Data: json.RawMessage(`"hello"`)})
	logged := strings.Count(out.String(), "msg=message worker=1 ")
	if most := 200 + int(100*elapsed.Seconds()) + 1; logged > most {
		t.Fatalf("%d of the flood's messages logged in %s, want at most %d", logged, elapsed, most)
	}
	if !strings.Contains(out.String(), `msg=message worker=2 pid=42 data="\"hello\""`) {
		t.Fatalf("the quiet worker's message was not logged:\n%.2000s", out.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for notLoggedCounts(out.String())[1]+logged != n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d logged + %v not logged, want %d in all", logged, notLoggedCounts(out.String()), n+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("the handle of a message not logged is still open")
	}
}

// TestMessageLogRefills: the bucket refills at the rate; -1 logs all.
func TestMessageLogRefills(t *testing.T) {
	b := &msgBucket{tokens: 0, last: time.Unix(0, 0)}
	if b.take(time.Unix(0, 0), 100) {
		t.Fatal("took from an empty bucket")
	}
	if !b.take(time.Unix(0, int64(20*time.Millisecond)), 100) || !b.take(time.Unix(0, int64(20*time.Millisecond)), 100) {
		t.Fatal("20 ms at 100/s gave less than 2 messages")
	}
	if b.take(time.Unix(0, int64(20*time.Millisecond)), 100) {
		t.Fatal("20 ms at 100/s gave a third message")
	}
	if !b.take(time.Unix(100, 0), 100) || b.tokens != 199 {
		t.Fatalf("a long pause: %v tokens, want a burst of 200 (less the one taken)", b.tokens)
	}
	var out testutil.SyncBuffer
	all := newMsgLog(slog.New(slog.NewTextHandler(&out, nil)), -1)
	for i := 0; i < 1000; i++ {
		all.message(cluster.WorkerInfo{ID: 1}, &ipc.Message{Data: json.RawMessage(`1`)})
	}
	if got := strings.Count(out.String(), "msg=message"); got != 1000 {
		t.Fatalf("--log-messages -1 logged %d of 1000", got)
	}
}

// BenchmarkMessageNotLogged is the cost of a message past the rate, to
// set beside BenchmarkMessageLogged.
func BenchmarkMessageNotLogged(b *testing.B) {
	l := newMsgLog(slog.New(slog.NewTextHandler(io.Discard, nil)), 100)
	m, w := &ipc.Message{Data: json.RawMessage(`{"hello":"world"}`)}, cluster.WorkerInfo{ID: 1, Pid: 1}
	for i := 0; i < b.N; i++ {
		l.message(w, m)
	}
}

// BenchmarkMessageLogged is the cost of logging a message.
func BenchmarkMessageLogged(b *testing.B) {
	l := newMsgLog(slog.New(slog.NewTextHandler(io.Discard, nil)), -1)
	m, w := &ipc.Message{Data: json.RawMessage(`{"hello":"world"}`)}, cluster.WorkerInfo{ID: 1, Pid: 1}
	for i := 0; i < b.N; i++ {
		l.message(w, m)
	}
}

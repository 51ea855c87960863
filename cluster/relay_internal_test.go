package cluster

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/herdhq/herd/ipc"
)

// TestOutboxBound: a worker that does not read holds at most
// relayMaxQueued bytes of relayed messages in the primary.
func TestOutboxBound(t *testing.T) {
	o := &outbox{sending: true} // a send in progress, stuck: nothing drains
	line := json.RawMessage(`"` + string(bytes.Repeat([]byte("x"), 64<<10)) + `"`)
	n := 0
	for o.put(line) {
		n++
		if n > 1000 {
			t.Fatal("the outbox took 64 MiB")
		}
	}
	if o.bytes > relayMaxQueued || o.bytes < relayMaxQueued-2*len(line) {
		t.Fatalf("the outbox holds %d bytes; want about %d", o.bytes, relayMaxQueued)
	}
}

// TestRelayDropsLong: a message over relayMaxMessage is consumed, not
// relayed, and counted.
func TestRelayDropsLong(t *testing.T) {
	var warned []string
	r := newRelay(func(s string) { warned = append(warned, s) }, DefaultMaxQueue)
	big := `{"source":"_sio_adapter","data":"` + string(bytes.Repeat([]byte("x"), relayMaxMessage)) + `"}`
	if !r.take(nil, &ipc.Message{Data: json.RawMessage(big)}) || r.dropped.Load() != 1 || len(warned) != 1 {
		t.Fatalf("a %d-byte message: dropped %d, warned %q", len(big), r.dropped.Load(), warned)
	}
	if r.take(nil, &ipc.Message{Data: json.RawMessage(`{"hello":"herd"}`)}) {
		t.Fatal("a user message was taken for the relay")
	}
}

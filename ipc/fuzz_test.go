package ipc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

var fuzzSeeds = []string{
	`{"a":1}` + "\n" + `"s"` + "\n" + "42\ntrue\nnull\n[1,{}]\n",
	`{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"x":1}}` + "\n",
	`{"cmd":"NODE_HANDLE","type":"net.Native","msg":{"cmd":"NODE_HANDLE","type":"net.Socket","msg":1}}` + "\n",
	`{"cmd":"NODE_HANDLE","type":"dgram.Socket","msg":1,"dgramType":"udp4"}` + "\n",
	`{"cmd":"NODE_HANDLE_ACK"}` + "\n" + `{"cmd":"NODE_HANDLE_NACK"}` + "\n",
	`{"cmd":"NODE_SOCKET_GET_COUNT","key":"k"}` + "\n" + `{"cmd":"NODE_SOCKET_NOTIFY_CLOSE"}` + "\n",
	`{"cmd":"NODE_X"}` + "\n" + `{"\u0063md":"NODE_Y","cmd":"z"}` + "\n" + `{"cmd":"NODE_"}` + "\n",
	"garbage\n", "\n", "\r\n", "1\r\n2\n", `{"a":`, "\xff\xfe\n", `"😀` + "\u2028\"\n",
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]` + "\n",
}

// fuzzMax is the channel's MaxMessageSize while fuzzing, small enough for
// the fuzzer to reach it.
const fuzzMax = 4 << 10

// FuzzReader feeds arbitrary bytes, split in two writes whose second may
// carry descriptors, into a channel and drains it. The channel must end
// with ErrDisconnected or a *ProtocolError, never panic or hang, and every
// message it gives must be one valid JSON line.
func FuzzReader(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(len(s)/2), uint8(i%3))
	}
	f.Add([]byte(`{"cmd":"NODE_HANDLE","type":"net.Socket","msg":1}`+"\n"), uint16(0), uint8(17))
	f.Fuzz(func(t *testing.T, data []byte, split uint16, nfds uint8) {
		testutil.CheckFDs(t)
		ch, p := rawPair(t, &ipc.Options{MaxMessageSize: fuzzMax})
		k := min(int(split), len(data))
		fds := sameFDs(t, int(nfds)%18)
		var wg sync.WaitGroup
		wg.Go(func() { feed(p, data[:k], data[k:], fds) })
		wg.Go(func() { discard(p) })
		err := recvEach(t, ch, func(m *ipc.Message) { checkMessage(t, m) })
		wg.Wait()
		var pe *ipc.ProtocolError
		if !errors.Is(err, ipc.ErrDisconnected) && !errors.As(err, &pe) {
			t.Fatalf("the channel ended with %v (%T)", err, err)
		}
	})
}

// feed writes a, then b with fds, then shuts the write side. Write errors
// are expected: the channel closes its end on bad input.
func feed(p *rawPeer, a, b []byte, fds []int) {
	defer p.conn.CloseWrite()
	if len(a) > 0 && p.send(a) != nil {
		return
	}
	if len(b) > 0 {
		p.send(b, fds...)
	}
}

// discard reads what the channel writes until it closes its end.
func discard(p *rawPeer) {
	deadline := time.Now().Add(liveness)
	for range 1 << 20 {
		if p.fill(deadline) != nil {
			break
		}
	}
	p.closeFDs(p.fds)
	p.fds, p.buf = nil, nil
}

// checkMessage fails the test unless m is one valid JSON line from a
// user message.
func checkMessage(t *testing.T, m *ipc.Message) {
	if !json.Valid(m.Data) || bytes.IndexByte(m.Data, '\n') >= 0 || m.Cmd != "" {
		t.Fatalf("got message %q (cmd %q)", m.Data, m.Cmd)
	}
}

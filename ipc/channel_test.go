package ipc_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

// seqMsg numbers message I of sender G.
type seqMsg struct {
	G int `json:"g"`
	I int `json:"i"`
}

func TestJSONValuesRoundTrip(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	values := []any{
		map[string]any{"a": 1.0, "b": "x"},
		[]any{1.0, "two", nil, true, []any{}},
		"plain string", "", 42.0, -1.5e-7, 0.0, 9007199254740991.0,
		true, false, nil,
		map[string]any{}, []any{},
		map[string]any{"n": map[string]any{"d": []any{map[string]any{"k": []any{1.0, map[string]any{}}}}}},
		"héllo wörld", "日本語テキスト", "4-byte: 😀 𝄞 🀄", "sep\u2028and\u2029",
		"escapes \n\r\t\x00\x1f \" \\ / <&>",
		map[string]any{"cmd": "node_x", "ünïcode kéy": "😀"},
	}
	for _, v := range values {
		mustSend(t, ch, v)
	}
	for _, want := range values {
		if got := recvInto[any](t, ch); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, want %#v", got, want)
		}
	}
}

func TestUTF8BytesKept(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	const msg = `{"s":"😀` + "\u2028" + `é日"}`
	// Split inside the 4-byte character and inside U+2028.
	p.write(msg[:8])
	p.write(msg[8:12])
	p.write(msg[12:] + "\n")
	if m := recvMsg(t, ch); string(m.Data) != msg {
		t.Fatalf("got %q, want %q", m.Data, msg)
	}
	mustSend(t, ch, map[string]string{"s": "😀\u2028"})
	line, _ := p.readLine()
	var back struct{ S string }
	if err := json.Unmarshal([]byte(line), &back); err != nil || back.S != "😀\u2028" {
		t.Fatalf("wrote %q (%v)", line, err)
	}
}

func TestSixteenMiBBothWays(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	big := strings.Repeat("0123456789abcdé😀", 16<<20/20+1) // 20 bytes each
	mustSend(t, ch, map[string]string{"big": big})
	got := recvInto[map[string]string](t, ch)
	if got["big"] != big {
		t.Fatalf("got %d bytes back, want %d", len(got["big"]), len(big))
	}
}

func TestTenThousandInOrder(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	const n = 10000
	wait := goEach(1, func(int) error { return sendSeq(ch, 0, n) })
	recvInterleaved(t, ch, 1, n, func(_ *ipc.Message, s seqMsg) int { return s.I })
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSend(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-echo")
	const senders, each = 16, 300
	wait := goEach(senders, func(g int) error { return sendSeq(ch, g, each) })
	recvInterleaved(t, ch, senders, senders*each, func(_ *ipc.Message, s seqMsg) int { return s.I })
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	mustSend(t, ch, "end")
	if m := recvInto[any](t, ch); m != "end" {
		t.Fatalf("got %v after all messages, want the end marker", m)
	}
}

// goEach runs f(0), ..., f(n-1) on n goroutines; the function it returns
// waits for them and joins their errors.
func goEach(n int, f func(g int) error) (wait func() error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for g := range n {
		wg.Go(func() { errs[g] = f(g) })
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

// recvInterleaved receives n messages of senders interleaved senders and
// checks that each one's arrive exactly once and in order: step gives a
// message's place in its sender's sequence.
func recvInterleaved(t *testing.T, ch *ipc.Channel, senders, n int, step func(*ipc.Message, seqMsg) int) {
	t.Helper()
	next := make([]int, senders)
	for range n {
		m := recvMsg(t, ch)
		var s seqMsg
		err := m.Decode(&s)
		got := step(m, s)
		m.CloseHandle()
		if err != nil || s.G < 0 || s.G >= senders || got != next[s.G] {
			t.Fatalf("got %s (step %d, %v); want each sender's next step in order", m.Data, got, err)
		}
		next[s.G]++
	}
}

// sendSeq sends messages 0..n-1 of sender g.
func sendSeq(ch *ipc.Channel, g, n int) error {
	for i := range n {
		if err := ch.Send(seqMsg{G: g, I: i}); err != nil {
			return err
		}
	}
	return nil
}

func TestSendUnencodable(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	for _, v := range []any{func() {}, make(chan int), json.RawMessage(`{"a":`)} {
		if err := ch.Send(v); err == nil {
			t.Fatalf("Send(%T) succeeded", v)
		}
	}
	mustSend(t, ch, json.RawMessage("{ \"pretty\" :\n [1,\n 2] }"))
	p.expectLine(`{"pretty":[1,2]}`)
}

package proc_test

// A Go parent and a real, unmodified Node.js child (and one Node parent
// with a Go child). The Node scripts use only Node's public API; each
// test ends by checking that Node exited 0: Node crashes with exit code 1
// on any line it cannot parse, a blank one included.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// echoJS answers every message with what Node made of it. "burst" makes
// it send 0..9999 then "end"; "bye" makes it answer and disconnect.
const echoJS = `'use strict';
process.on('message', (m) => {
  if (m === 'burst') {
    for (let i = 0; i < 10000; i++) process.send(i);
    process.send('end');
    return;
  }
  if (m === 'bye') {
    process.send('bye', () => process.disconnect());
    return;
  }
  const type = m === null ? 'null' : Array.isArray(m) ? 'array' : typeof m;
  process.send({type, len: typeof m === 'string' ? m.length : -1, m});
});
`

// busyJS keeps Node busy without listening to its channel.
const busyJS = `'use strict';
setInterval(() => {}, 1000);
`

// handlesFromGoJS serves on the handles Go sends it and closes them when
// the channel closes.
const handlesFromGoJS = `'use strict';
const net = require('net');
const dgram = require('dgram');
const handles = [];
process.on('message', (m, h) => {
  if (!h) return;
  handles.push(h);
  let ok = false;
  switch (m.kind) {
    case 'server':
      ok = h instanceof net.Server && h.listening;
      h.on('connection', (s) => s.end('hello from node server'));
      break;
    case 'socket':
      ok = h instanceof net.Socket;
      h.end('hello from node socket');
      break;
    case 'dgram':
      ok = h instanceof dgram.Socket;
      h.on('message', (b, r) => h.send(b, r.port, r.address));
      break;
  }
  process.send({kind: m.kind, ok});
});
process.on('disconnect', () => handles.forEach((h) => (h.destroy ? h.destroy() : h.close())));
`

// handlesFromNodeJS sends Go a listening server, a client socket and a
// socket its own server accepted (which carries a "key", so that closing
// the server asks Go about it with NODE_SOCKET_NOTIFY_CLOSE).
const handlesFromNodeJS = `'use strict';
const net = require('net');
let acceptor;
process.on('message', (m) => {
  switch (m.do) {
    case 'server': {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        process.send({kind: 'server', port: srv.address().port}, srv,
          () => srv.close(() => process.send('server closed')));
      });
      break;
    }
    case 'dial': {
      const s = net.connect(m.port, '127.0.0.1', () => process.send({kind: 'socket'}, s));
      break;
    }
    case 'accept':
      acceptor = net.createServer({pauseOnConnect: true}, (s) => process.send({kind: 'accepted'}, s));
      acceptor.listen(0, '127.0.0.1', () => process.send({port: acceptor.address().port}));
      break;
    case 'close':
      acceptor.close(() => process.send('acceptor closed'));
      break;
  }
});
`

// internalJS records the user messages it gets, reports them on
// "report", and on "send" sends back every probe it was given.
const internalJS = `'use strict';
const seen = [];
let probes = [];
process.on('message', (m) => {
  if (m === 'report') return process.send({seen});
  if (m === 'send') {
    probes.forEach((p) => process.send(p));
    return process.send('sent');
  }
  if (m !== null && typeof m === 'object' && Array.isArray(m.probes)) {
    probes = m.probes;
    return;
  }
  seen.push(m);
});
`

// nodeParentJS forks the Go echo helper (the test binary) as its child,
// sends it values and a server handle, checks the echoes and the child's
// exit code, and prints "ok".
const nodeParentJS = `'use strict';
const {fork} = require('child_process');
const net = require('net');
const assert = require('assert');
const values = [{a: 1, nested: {b: [1, 'two', null]}}, [1, 'x'], 'plain', '', 42, -3.5e-7,
  true, false, null, 'héllo wörld 世界 🎉 \u2028\n\t"\\ <&>', 'é'.repeat(1 << 20)];
const child = fork(__filename, [], {
  execPath: process.env.HERD_BIN,
  env: {...process.env, HERD_TEST_HELPER: 'echo'},
});
const timer = setTimeout(() => {
  console.error('node parent: timed out');
  process.exit(2);
}, 30000);
const got = [];
let server;
child.on('message', (m, h) => {
  if (h) {
    assert.ok(h instanceof net.Server, 'the echoed handle is a net.Server');
    assert.strictEqual(h.address().port, server.address().port);
    assert.deepStrictEqual(m, {srv: 1});
    h.close();
    server.close();
    child.disconnect();
    return;
  }
  got.push(m);
  if (got.length === values.length) {
    assert.deepStrictEqual(got, values);
    server = net.createServer().listen(0, '127.0.0.1', () => child.send({srv: 1}, server));
  }
});
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  if (code !== 0) {
    console.error('node parent: Go child exited', code, signal);
    process.exit(1);
  }
  console.log('ok');
});
values.forEach((v) => child.send(v));
`

// nodeScript writes js to a file for node to run, skipping the test when
// node is not installed.
func nodeScript(t *testing.T, js string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH")
	}
	path := filepath.Join(t.TempDir(), "script.js")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNode runs js in a Node child with a channel.
func startNode(t *testing.T, js string, opts *ipc.Options) *proc.Cmd {
	t.Helper()
	c := proc.Command("node", nodeScript(t, js))
	c.Stderr = os.Stderr
	c.ChannelOptions = opts
	return start(t, c)
}

// finishNode disconnects and checks that Node exits 0, and that the
// events say so.
func finishNode(t *testing.T, c *proc.Cmd) {
	t.Helper()
	if err := c.Disconnect(); err != nil {
		t.Errorf("Disconnect: %v", err)
	}
	if err := waitExit(t, c); err != nil {
		t.Fatalf("node exited with %v, want 0", err)
	}
	evs := allEvents(t, c)
	if ev := findEvent(t, evs, proc.Exit); ev.Crashed() {
		t.Errorf("exit event %+v, want a clean exit", ev)
	}
}

// utf16Len is a string's length as JavaScript counts it.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func TestNodeValues(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, echoJS, nil)
	for _, tc := range []struct {
		name, typ string
		v         any
	}{
		{"object", "object", map[string]any{"a": 1.0, "nested": map[string]any{"b": []any{1.0, "two", nil}}}},
		{"array", "array", []any{1.0, "x"}},
		{"string", "string", "plain string"},
		{"empty string", "string", ""},
		{"integer", "number", 42.0},
		{"float", "number", -3.5e-7},
		{"bool", "boolean", true},
		{"null", "null", nil},
		{"utf8", "string", "héllo wörld 世界 🎉 \u2028\n\t\"\\ <&> \x7f"},
		{"16MiB", "string", strings.Repeat("é", 8<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) { checkNodeEcho(t, c.Channel(), tc.typ, tc.v) })
	}
	finishNode(t, c)
}

// checkNodeEcho sends v and checks what Node made of it.
func checkNodeEcho(t *testing.T, ch *ipc.Channel, typ string, v any) {
	if err := ch.Send(v); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Type string
		Len  int
		M    any
	}
	recvInto(t, ch, &r)
	wantLen := -1
	if s, ok := v.(string); ok {
		wantLen = utf16Len(s)
	}
	if r.Type != typ || r.Len != wantLen {
		t.Errorf("node saw a %s of length %d, want a %s of length %d", r.Type, r.Len, typ, wantLen)
	}
	if !reflect.DeepEqual(r.M, v) {
		t.Errorf("echo differs: got %.100v, want %.100v", r.M, v)
	}
}

func TestNodeOrder(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, echoJS, nil)
	ch := c.Channel()
	const n = 10000
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := ch.Send(map[string]int{"i": i}); err != nil {
				sent <- err
				return
			}
		}
		sent <- ch.Send("burst")
	}()
	for i := range n {
		var r struct{ M struct{ I int } }
		if recvInto(t, ch, &r); r.M.I != i {
			t.Fatalf("echo %d came back as %d", i, r.M.I)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var v int
		if recvInto(t, ch, &v); v != i {
			t.Fatalf("node's message %d came as %d", i, v)
		}
	}
	var end string
	if recvInto(t, ch, &end); end != "end" {
		t.Fatalf("got %q, want end", end)
	}
	finishNode(t, c)
}

// sendToNode sends handle h to the handlesFromGoJS child and checks that
// Node made the right object of it.
func sendToNode(t *testing.T, ch *ipc.Channel, kind string, h any) {
	t.Helper()
	if err := ch.SendHandle(map[string]string{"kind": kind}, h); err != nil {
		t.Fatalf("SendHandle: %v", err)
	}
	var r struct {
		Kind string
		OK   bool
	}
	if recvInto(t, ch, &r); r.Kind != kind || !r.OK {
		t.Fatalf("node got %+v, want a working %s", r, kind)
	}
}

// readAll reads conn to its end and checks it read want.
func readAll(t *testing.T, conn net.Conn, want string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(liveness))
	b, err := io.ReadAll(conn)
	if err != nil || string(b) != want {
		t.Fatalf("read %q (%v), want %q", b, err, want)
	}
}

// tcpPair returns both ends of a new loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), liveness)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server = accept(t, ln)
	return client, server
}

// accept accepts one connection on ln, giving up after liveness.
func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(liveness))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestNodeHandlesFromGo(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, handlesFromGoJS, nil)
	ch := c.Channel()
	t.Run("net.Server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sendToNode(t, ch, "server", ln)
		ln.Close() // Node has its own copy now
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), liveness)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		readAll(t, conn, "hello from node server")
	})
	t.Run("net.Socket", func(t *testing.T) {
		client, server := tcpPair(t)
		sendToNode(t, ch, "socket", server)
		server.Close()
		readAll(t, client, "hello from node socket")
	})
	t.Run("dgram.Socket", func(t *testing.T) { udpToNode(t, ch) })
	finishNode(t, c)
}

// udpToNode sends Node a UDP socket and checks that Node echoes on it.
func udpToNode(t *testing.T, ch *ipc.Channel) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sendToNode(t, ch, "dgram", pc)
	pc.Close()
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	for attempt := range 10 { // UDP may drop a datagram, even on loopback
		fmt.Fprintf(conn, "ping %d", attempt)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := conn.Read(buf)
		if err == nil && strings.HasPrefix(string(buf[:n]), "ping ") {
			return
		}
	}
	t.Fatal("no echo from node's UDP socket")
}

// exchange checks that a and b are the two ends of one connection.
func exchange(t *testing.T, a, b net.Conn) {
	t.Helper()
	for _, p := range [][2]net.Conn{{a, b}, {b, a}} {
		if _, err := p[0].Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		p[1].SetReadDeadline(time.Now().Add(liveness))
		if _, err := io.ReadFull(p[1], buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q (%v), want ping", buf, err)
		}
	}
}

// recvHandle receives a message with a handle of type T and decodes it.
func recvHandle[T any](t *testing.T, ch *ipc.Channel, v any) T {
	t.Helper()
	m := recvInto(t, ch, v)
	h, ok := m.Handle.(T)
	if !ok {
		m.CloseHandle()
		t.Fatalf("message %s came with handle %T (%s)", m.Data, m.Handle, m.HandleType)
	}
	if c, ok := m.Handle.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return h
}

// expectString receives a string message and checks it.
func expectString(t *testing.T, ch *ipc.Channel, want string) {
	t.Helper()
	var s string
	if recvInto(t, ch, &s); s != want {
		t.Fatalf("got %q, want %q", s, want)
	}
}

func TestNodeHandlesFromNode(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, handlesFromNodeJS, nil)
	ch := c.Channel()
	t.Run("net.Server", func(t *testing.T) { serverFromNode(t, ch) })
	t.Run("net.Socket", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ch.Send(map[string]any{"do": "dial", "port": ln.Addr().(*net.TCPAddr).Port})
		mine := accept(t, ln)
		exchange(t, recvHandle[net.Conn](t, ch, &struct{}{}), mine)
	})
	t.Run("accepted net.Socket", func(t *testing.T) {
		ch.Send(map[string]string{"do": "accept"})
		var r struct{ Port int }
		recvInto(t, ch, &r)
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), liveness)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		exchange(t, recvHandle[net.Conn](t, ch, &struct{}{}), conn)
		// Node's server now asks Go (NODE_SOCKET_NOTIFY_CLOSE) before its
		// close completes; ipc must answer.
		ch.Send(map[string]string{"do": "close"})
		expectString(t, ch, "acceptor closed")
	})
	finishNode(t, c)
}

// serverFromNode receives a listening server from Node and serves on it
// once Node has closed its own copy.
func serverFromNode(t *testing.T, ch *ipc.Channel) {
	ch.Send(map[string]string{"do": "server"})
	var r struct{ Port int }
	ln := recvHandle[net.Listener](t, ch, &r)
	if port := ln.Addr().(*net.TCPAddr).Port; port != r.Port {
		t.Fatalf("listener on port %d, node listened on %d", port, r.Port)
	}
	expectString(t, ch, "server closed")
	served := make(chan error, 1)
	go func() {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(liveness))
		conn, err := ln.Accept()
		if err == nil {
			_, err = conn.Write([]byte("hello from go"))
			conn.Close()
		}
		served <- err
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), liveness)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	readAll(t, conn, "hello from go")
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// probes are messages on both sides of Node's internal/user line: a
// string "cmd" of more than five characters starting with "NODE_".
var probes = []struct {
	json     string
	internal bool
}{
	{`{"cmd":"NODE_CUSTOM","n":1}`, true},
	{`{"n":2,"cmd":"NODE_HERD_PROBE"}`, true},
	{`{"cmd":"NODE_x"}`, true},
	{`{"cmd":"NODE_"}`, false},
	{`{"cmd":"node_lower"}`, false},
	{`{"cmd":"NODEX_1"}`, false},
	{`{"cmd":5}`, false},
	{`["NODE_ARRAY"]`, false},
	{`{"x":{"cmd":"NODE_NESTED"}}`, false},
	{`"NODE_STRING"`, false},
	{`{"cmd":"user","cmd":"NODE_DUP_LAST"}`, true}, // JavaScript keeps the last key
	{`{"cmd":"NODE_DUP_FIRST","cmd":"user"}`, false},
	{`{"\u0063md":"NODE_ESCAPED_KEY"}`, true},
	{`{"cmd":"NODE_\u0045SCAPED_VALUE"}`, true},
}

// probeSet returns the probes that are (or are not) internal, decoded.
func probeSet(internal bool) []any {
	var out []any
	for _, p := range probes {
		if p.internal == internal {
			var v any
			json.Unmarshal([]byte(p.json), &v)
			out = append(out, v)
		}
	}
	return out
}

// collector gathers what Options.Internal gets.
type collector struct {
	mu   sync.Mutex
	msgs []any
}

func (c *collector) add(m *ipc.Message) {
	var v any
	json.Unmarshal(m.Data, &v)
	c.mu.Lock()
	c.msgs = append(c.msgs, v)
	c.mu.Unlock()
}

func (c *collector) get() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs
}

// Node and ipc agree on which messages are internal: Node's 'message'
// never sees the internal ones Go sends, and Go's Recv never sees the
// internal ones Node sends, while Options.Internal does.
func TestNodeInternalMessages(t *testing.T) {
	testutil.CheckFDs(t)
	var internal collector
	c := startNode(t, internalJS, &ipc.Options{Internal: internal.add})
	ch := c.Channel()
	var all []json.RawMessage
	for _, p := range probes {
		all = append(all, json.RawMessage(p.json))
		if err := ch.Send(json.RawMessage(p.json)); err != nil {
			t.Fatal(err)
		}
	}
	ch.Send(map[string]any{"probes": all})
	ch.Send("report")
	var r struct{ Seen []any }
	if recvInto(t, ch, &r); !reflect.DeepEqual(r.Seen, probeSet(false)) {
		t.Errorf("node's 'message' saw %v, want only the user messages %v", r.Seen, probeSet(false))
	}
	ch.Send("send")
	var got []any
	for range len(probes) + 1 {
		var v any
		if recvInto(t, ch, &v); v == "sent" {
			break
		}
		got = append(got, v)
	}
	if !reflect.DeepEqual(got, probeSet(false)) {
		t.Errorf("Recv got %v, want only the user messages %v", got, probeSet(false))
	}
	if !reflect.DeepEqual(internal.get(), probeSet(true)) {
		t.Errorf("Options.Internal got %v, want %v", internal.get(), probeSet(true))
	}
	finishNode(t, c)
}

// A Go receiver classifies the probes' exact bytes (which Node would
// never write: JSON.stringify drops duplicate keys) as Node does.
func TestInternalMessagesFromRawPeer(t *testing.T) {
	testutil.CheckFDs(t)
	var raw strings.Builder
	for _, p := range probes {
		raw.WriteString(p.json + "\n")
	}
	raw.WriteString(`"end"` + "\n")
	var internal collector
	c := helperCmd("raw", "HERD_RAW="+raw.String())
	c.ChannelOptions = &ipc.Options{Internal: internal.add}
	ch := start(t, c).Channel()
	var got []any
	for range len(probes) + 1 {
		var v any
		if recvInto(t, ch, &v); v == "end" {
			break
		}
		got = append(got, v)
	}
	if !reflect.DeepEqual(got, probeSet(false)) {
		t.Errorf("Recv got %v, want only the user messages %v", got, probeSet(false))
	}
	if !reflect.DeepEqual(internal.get(), probeSet(true)) {
		t.Errorf("Options.Internal got %v, want %v", internal.get(), probeSet(true))
	}
}

// Node disconnects: Recv reports ipc.ErrDisconnected, the events say
// Disconnect then (or before) a clean exit.
func TestNodeDisconnects(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, echoJS, nil)
	ch := c.Channel()
	ch.Send("bye")
	expectString(t, ch, "bye")
	if err := recvEnd(t, ch); !errors.Is(err, ipc.ErrDisconnected) {
		t.Fatalf("Recv: %v, want ErrDisconnected", err)
	}
	if err := waitExit(t, c); err != nil {
		t.Fatalf("node exited with %v, want 0", err)
	}
	evs := allEvents(t, c)
	if ev := findEvent(t, evs, proc.Disconnect); !errors.Is(ev.Err, ipc.ErrDisconnected) {
		t.Errorf("disconnect event %+v, want ErrDisconnected", ev)
	}
	if ev := findEvent(t, evs, proc.Exit); ev.Crashed() {
		t.Errorf("exit event %+v, want exit code 0", ev)
	}
}

// Go disconnects: a Node child whose only reason to live is its
// 'message' listener exits 0.
func TestNodeExitsWhenGoDisconnects(t *testing.T) {
	testutil.CheckFDs(t)
	c := startNode(t, echoJS, nil)
	checkNodeEcho(t, c.Channel(), "string", "ping")
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, c); err != nil {
		t.Fatalf("node exited with %v, want 0", err)
	}
	if ev := findEvent(t, allEvents(t, c), proc.Disconnect); !errors.Is(ev.Err, ipc.ErrClosed) {
		t.Errorf("disconnect event %+v, want ErrClosed", ev)
	}
}

// A Node parent forks the Go echo helper: every line the Go child writes
// must parse in Node (a blank or broken one would crash the parent), and
// a handle must make the round trip.
func TestNodeParentGoChild(t *testing.T) {
	testutil.CheckFDs(t)
	script := nodeScript(t, nodeParentJS)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveness)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "HERD_BIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node parent: %v\n%s", err, out)
	}
}

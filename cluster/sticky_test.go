package cluster_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
)

// TestStickyByAddress: under Sticky, every connection from one address
// reaches one worker, the clients spread over the workers, a reload keeps
// each client on its slot (now the successor), so does a crash, and
// scaling 4 → 5 moves few clients.
func TestStickyByAddress(t *testing.T) {
	h := start(t, cluster.Config{Workers: 4, Policy: cluster.Sticky}, "http")
	h.waitReady(4)
	before := h.slotsOf(t, 40)
	if n := distinct(before); n < 3 {
		t.Fatalf("40 clients reached %d slots: %v", n, before)
	}
	if err := h.p.Reload(); err != nil {
		t.Fatal(err)
	}
	if e := h.reloadEnd(60 * time.Second); e.Err != nil {
		t.Fatal(e)
	}
	h.waitReady(4)
	if after := h.slotsOf(t, 40); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("slots changed over a reload:\nbefore %v\nafter  %v", before, after)
	}
	ws, err := h.p.Workers()
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(ws[0].Pid, syscall.SIGKILL) // its clients go to its successor
	h.waitReady(1)
	if after := h.slotsOf(t, 40); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("slots changed over a crash:\nbefore %v\nafter  %v", before, after)
	}
	if err := h.p.Scale(5); err != nil {
		t.Fatal(err)
	}
	h.waitReady(1)
	moved := 0
	for i, s := range h.slotsOf(t, 40) {
		if s != before[i] {
			moved++
		}
	}
	if moved > 20 {
		t.Fatalf("scaling 4 → 5 moved %d of 40 clients", moved)
	}
}

// slotsOf returns, for n clients from 127.0.0.10 on, the slot of the
// worker that answered each; each client connects three times, and must
// reach the same worker each time.
func (h *harness) slotsOf(t *testing.T, n int) []int {
	t.Helper()
	ws, err := h.p.Workers()
	if err != nil {
		t.Fatal(err)
	}
	slotOf := map[string]int{}
	for _, w := range ws {
		slotOf[fmt.Sprint(w.ID)] = w.Slot
	}
	out := make([]int, n)
	for i := range out {
		from := fmt.Sprintf("127.0.0.%d", 10+i)
		ids := map[string]bool{}
		for j := 0; j < 3; j++ {
			ids[strings.Fields(rawGet(t, from, h.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[0]] = true
		}
		if len(ids) != 1 {
			t.Fatalf("client %s reached workers %v", from, ids)
		}
		for id := range ids {
			out[i] = slotOf[id]
		}
	}
	return out
}

func distinct(s []int) int {
	m := map[int]bool{}
	for _, v := range s {
		m[v] = true
	}
	return len(m)
}

// rawGet connects from the local address from, writes req (each "|" in it
// a pause of 100ms between writes), and returns the response body.
func rawGet(t *testing.T, from, addr, req string) string {
	t.Helper()
	body, err := tryRawGet(from, addr, req)
	if err != nil {
		t.Fatalf("from %s: %v", from, err)
	}
	return body
}

func tryRawGet(from, addr, req string) (string, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for i, part := range strings.Split(req, "|") {
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := io.WriteString(c, part); err != nil {
			return "", err
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %s: %s", resp.Status, b)
	}
	return string(b), err
}

// TestStickyHeader: with StickyHeader, the header's value picks the
// worker whatever the address, the worker still gets the whole request
// (peeked, not consumed), a header that comes in pieces is waited for,
// and a request without it, or a client silent past IdentifyTimeout, is
// routed by address and served.
func TestStickyHeader(t *testing.T) {
	h := start(t, cluster.Config{Workers: 4, Policy: cluster.Sticky, StickyHeader: "X-Real-IP",
		IdentifyTimeout: 300 * time.Millisecond}, "http")
	h.waitReady(4)
	req := func(v string) string {
		return "GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: " + v + "\r\nConnection: close\r\n\r\n"
	}
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		v := fmt.Sprintf("10.0.0.%d", i)
		first := strings.Fields(rawGet(t, "127.0.0.1", h.addr, req(v)))[0]
		ids[first] = true
		for j, from := range []string{"127.0.0.2", "127.0.0.3"} {
			r := req(v)
			if j == 1 {
				r = strings.Replace(r, "X-Real", "|X-Real", 1) // the header in a second write
			}
			if got := strings.Fields(rawGet(t, from, h.addr, r))[0]; got != first {
				t.Fatalf("X-Real-IP %s reached worker %s from 127.0.0.1, %s from %s", v, first, got, from)
			}
		}
	}
	if len(ids) < 3 {
		t.Fatalf("20 clients reached %d workers", len(ids))
	}
	rawGet(t, "127.0.0.1", h.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	slow := "|||||" + req("10.0.0.1") // 500ms of silence first
	rawGet(t, "127.0.0.1", h.addr, slow)
}

// TestProxyProtocol: with ProxyProtocol, the primary strips a v1 or v2
// header (the worker, a plain HTTP server, answers), Sticky uses its
// source address, and a connection without one is closed unanswered.
func TestProxyProtocol(t *testing.T) {
	h := start(t, cluster.Config{Workers: 4, Policy: cluster.Sticky, ProxyProtocol: true,
		IdentifyTimeout: 300 * time.Millisecond}, "http")
	h.waitReady(4)
	get := "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		v1 := fmt.Sprintf("PROXY TCP4 192.0.2.%d 10.0.0.1 %d 80\r\n", i, 1000+i)
		v2 := string(proxyV2(192, 0, 2, byte(i))) + "|"
		first := strings.Fields(rawGet(t, "127.0.0.1", h.addr, v1+get))[0]
		ids[first] = true
		if got := strings.Fields(rawGet(t, "127.0.0.2", h.addr, v2+get))[0]; got != first {
			t.Fatalf("source 192.0.2.%d reached worker %s by v1, %s by v2", i, first, got)
		}
	}
	if len(ids) < 3 {
		t.Fatalf("20 clients reached %d workers", len(ids))
	}
	for _, bad := range []string{get, "PROXY TCP4 nonsense\r\n" + get, "||||" + get} {
		if body, err := tryRawGet("127.0.0.1", h.addr, bad); err == nil {
			t.Fatalf("%q without a valid PROXY header was answered: %s", bad, body)
		}
	}
}

// proxyV2 is a PROXY v2 header for a TCP4 connection from a.b.c.d.
func proxyV2(a, b, c, d byte) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	return append(h, a, b, c, d, 10, 0, 0, 1, 0x30, 0x39, 0, 80)
}

// TestHostileSilentClients: 2000 connections that send nothing hold at
// most 1024 identifying goroutines in the primary (the rest are routed by
// address at once), each for IdentifyTimeout; a client that sends its
// request meanwhile is served.
func TestHostileSilentClients(t *testing.T) {
	h := start(t, cluster.Config{Workers: 2, Policy: cluster.Sticky, StickyHeader: "X-Real-IP",
		IdentifyTimeout: 3 * time.Second}, "http")
	h.waitReady(2)
	base := runtime.NumGoroutine()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	peak := 0
	for i := 0; i < 2000; i++ {
		c, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		peak = max(peak, runtime.NumGoroutine()-base)
	}
	rawGet(t, "127.0.0.1", h.addr, "GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.0.0.1\r\nConnection: close\r\n\r\n")
	peak = max(peak, runtime.NumGoroutine()-base)
	if peak > 1024+100 {
		t.Fatalf("%d goroutines more than before, for 2000 silent connections", peak)
	}
	if peak < 500 {
		t.Fatalf("only %d goroutines more: were the connections identified?", peak)
	}
}

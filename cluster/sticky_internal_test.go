package cluster

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// fakeSlot is a router in a slot.
type fakeSlot struct{ slot, id int }

func (fakeSlot) handOff(int, *dispatcher)  {}
func (fakeSlot) load() int64               { return 0 }
func (f *fakeSlot) slotID() (slot, id int) { return f.slot, f.id }
func slotsSet(n int) []router {
	set := make([]router, n)
	for i := range set {
		set[i] = &fakeSlot{slot: i + 1, id: i + 1}
	}
	return set
}

func keyOf(i int) uint64 { return identityKey([]byte(fmt.Sprintf("10.0.%d.%d", i/256, i%256))) }

// TestStickyPickMovesFew: scaling 4 slots to 5 moves about a fifth of the
// clients (all to the new slot), and losing a slot moves only its own.
func TestStickyPickMovesFew(t *testing.T) {
	const clients = 10000
	four, five := slotsSet(4), slotsSet(5)
	moved, perSlot := 0, map[int]int{}
	for i := 0; i < clients; i++ {
		a := stickyPick(four, keyOf(i), nil).(*fakeSlot)
		b := stickyPick(five, keyOf(i), nil).(*fakeSlot)
		perSlot[a.slot]++
		if a != b && a.slot != b.slot {
			moved++
			if b.slot != 5 {
				t.Fatalf("client %d moved from slot %d to %d, not to the new slot", i, a.slot, b.slot)
			}
		}
	}
	if moved < clients/10 || moved > clients*3/10 {
		t.Fatalf("scaling 4 → 5 moved %d of %d clients; want about a fifth", moved, clients)
	}
	for s, n := range perSlot {
		if n < clients/4*8/10 {
			t.Fatalf("slot %d got %d of %d clients: %v", s, n, clients, perSlot)
		}
	}
	for i := 0; i < clients; i++ { // slot 2's worker is gone: only its clients move
		a := stickyPick(four, keyOf(i), nil).(*fakeSlot)
		b := stickyPick(four, keyOf(i), four[1]).(*fakeSlot)
		if a.slot != 2 && a != b {
			t.Fatalf("client %d of slot %d moved to %d when slot 2 went", i, a.slot, b.slot)
		}
	}
}

// TestStickyPickNewestOfSlot: during a reload's overlap, a slot's newer
// worker takes its clients.
func TestStickyPickNewestOfSlot(t *testing.T) {
	set := slotsSet(3)
	newer := &fakeSlot{slot: 2, id: 9}
	set = append(set, newer)
	for i := 0; i < 1000; i++ {
		if got := stickyPick(set, keyOf(i), nil).(*fakeSlot); got.slot == 2 && got != newer {
			t.Fatalf("client %d went to slot 2's older worker", i)
		}
	}
}

func TestParseProxy(t *testing.T) {
	v2 := func(cmd, fam byte, addr []byte) []byte {
		b := append([]byte(nil), proxyV2Sig...)
		b = append(b, 0x20|cmd, fam, 0, 0)
		binary.BigEndian.PutUint16(b[14:], uint16(len(addr)))
		return append(b, addr...)
	}
	v4addr := []byte{192, 0, 2, 7, 10, 0, 0, 1, 0x30, 0x39, 0, 80}
	v6addr := make([]byte, 36)
	v6addr[15] = 1
	for _, tc := range []struct {
		name string
		in   string
		n    int
		ip   string
		err  bool
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.7 10.0.0.1 12345 80\r\nGET /", 40, "c0000207", false},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 ::1 1 2\r\n", 32, "20010db8000000000000000000000001", false},
		{"v1 unknown", "PROXY UNKNOWN\r\nGET", 15, "", false},
		{"v1 partial", "PROXY TCP4 192.0", 0, "", false},
		{"prefix partial", "PRO", 0, "", false},
		{"v1 bad ip", "PROXY TCP4 nope 10.0.0.1 1 2\r\n", 0, "", true},
		{"v1 bad proto", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", 0, "", true},
		{"v1 too long", "PROXY TCP4 " + string(make([]byte, 120)), 0, "", true},
		{"plain http", "GET / HTTP/1.1\r\n", 0, "", true},
		{"v2 tcp4", string(v2(1, 0x11, v4addr)) + "GET", 28, "c0000207", false},
		{"v2 tcp6", string(v2(1, 0x21, v6addr)), 52, "00000000000000000000000000000001", false},
		{"v2 local", string(v2(0, 0, nil)), 16, "", false},
		{"v2 partial", string(v2(1, 0x11, v4addr)[:20]), 0, "", false},
		{"v2 short addr", string(v2(1, 0x11, v4addr[:4])), 0, "", true},
		{"v2 bad version", string(append(append([]byte(nil), proxyV2Sig...), 0x31, 0x11, 0, 0)), 0, "", true},
	} {
		n, ip, err := parseProxy([]byte(tc.in))
		if n != tc.n || fmt.Sprintf("%x", ip) != tc.ip || (err != nil) != tc.err {
			t.Errorf("%s: got %d %x %v; want %d %s err=%v", tc.name, n, ip, err, tc.n, tc.ip, tc.err)
		}
	}
}

func TestFindHeader(t *testing.T) {
	name := []byte("x-forwarded-for")
	for _, tc := range []struct {
		in, v      string
		found, end bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.1.2.3, 172.16.0.1\r\n\r\n", "10.1.2.3", true, false},
		{"GET / HTTP/1.1\r\nx-forwarded-for:10.9.9.9\r\n", "10.9.9.9", true, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nX-Forwarded-For: 1.1.1.1\r\n", "", false, true},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Forw", "", false, false},
		{"GET / HTTP/1.1\r\nX-Forwarded-For: 10.1", "", false, false},
		{"GET / HTT", "", false, false},
		{"GET / HTTP/1.1\r\nX-Forwarded-Foo: 1\r\nX-Forwarded-For : 2\r\n", "2", true, false},
	} {
		v, found, end := findHeader([]byte(tc.in), name)
		if string(v) != tc.v || found != tc.found || end != tc.end {
			t.Errorf("%q: got %q %v %v; want %q %v %v", tc.in, v, found, end, tc.v, tc.found, tc.end)
		}
	}
}

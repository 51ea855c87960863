package statebroker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// TestSnapshotRestore: a snapshot carries keys, values and the TTLs they
// have left, still counting down (the time since it was taken is taken
// off); keys past the new broker's limits are skipped.
func TestSnapshotRestore(t *testing.T) {
	old := newBroker(t, Limits{})
	c := connect(t, old)
	c.do(statewire.Request{Op: statewire.OpSet, Key: "k", Val: []byte("v")})
	c.do(statewire.Request{Op: statewire.OpSet, Key: "t", Val: []byte("ttl"), TTL: 60_000})
	c.do(statewire.Request{Op: statewire.OpSet, Key: "gone", Val: []byte("x"), TTL: 1})
	time.Sleep(5 * time.Millisecond) // "gone" expires before the snapshot
	var buf bytes.Buffer
	if err := old.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	aged := ageSnapshot(t, buf.Bytes(), 20*time.Second)
	nb := newBroker(t, Limits{})
	if loaded, skipped, err := nb.Restore(bytes.NewReader(aged)); err != nil || loaded != 2 || skipped != 0 {
		t.Fatalf("restore: loaded %d, skipped %d, %v", loaded, skipped, err)
	}
	nc := connect(t, nb)
	if r := nc.do(statewire.Request{Op: statewire.OpGet, Key: "k"}); string(r.Val) != "v" {
		t.Fatalf("k: %+v", r)
	}
	if r := nc.do(statewire.Request{Op: statewire.OpGet, Key: "gone"}); r.Code != statewire.CodeNotFound {
		t.Fatalf("an expired key was restored: %+v", r)
	}
	nb.mu.Lock()
	left := time.Until(nb.kv["t"].exp)
	nb.mu.Unlock()
	if left > 40*time.Second || left < 30*time.Second {
		t.Fatalf("t has %s left, want about 40s (60s less the snapshot's 20s of age)", left)
	}
	small := newBroker(t, Limits{MaxKeys: 1})
	if loaded, skipped, err := small.Restore(bytes.NewReader(buf.Bytes())); err != nil || loaded != 1 || skipped != 1 {
		t.Fatalf("restore past MaxKeys: loaded %d, skipped %d, %v", loaded, skipped, err)
	}
}

// ageSnapshot moves a snapshot's time back by d.
func ageSnapshot(t *testing.T, b []byte, d time.Duration) []byte {
	t.Helper()
	ns, n := binary.Varint(b[len(snapshotMagic):])
	if n <= 0 {
		t.Fatal("no time in the snapshot")
	}
	out := binary.AppendVarint([]byte(snapshotMagic), ns-int64(d))
	return append(out, b[len(snapshotMagic)+n:]...)
}

// TestRestoreMalformed: a cut or forged snapshot fails, keeping what
// came before the fault, and never allocates past the limits.
func TestRestoreMalformed(t *testing.T) {
	old := newBroker(t, Limits{})
	c := connect(t, old)
	c.do(statewire.Request{Op: statewire.OpSet, Key: "a", Val: []byte("1")})
	var buf bytes.Buffer
	old.Snapshot(&buf)
	cut := buf.Bytes()[:buf.Len()-1]
	nb := newBroker(t, Limits{})
	if loaded, _, err := nb.Restore(bytes.NewReader(cut)); !errors.Is(err, errSnapshot) || loaded != 1 {
		t.Fatalf("a cut snapshot: loaded %d, %v", loaded, err)
	}
	huge := binary.AppendVarint([]byte(snapshotMagic), time.Now().UnixNano())
	huge = binary.AppendUvarint(huge, 1<<40)
	if _, _, err := nb.Restore(bytes.NewReader(huge)); !errors.Is(err, errSnapshot) {
		t.Fatalf("a key of 1 TiB: %v", err)
	}
	if _, _, err := nb.Restore(bytes.NewReader([]byte("junk"))); !errors.Is(err, errSnapshot) {
		t.Fatalf("junk: %v", err)
	}
}

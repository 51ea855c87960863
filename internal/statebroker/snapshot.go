package statebroker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// snapshotMagic starts a snapshot: its format's name and version.
const snapshotMagic = "herd-state-snapshot-1\n"

// A snapshot (Snapshot, Restore) is snapshotMagic, the wall-clock time it
// was taken (unix nanoseconds, a varint), then one record per key: the
// key and the value, each as a uvarint length and its bytes, and the TTL
// left at that time in nanoseconds (a varint; 0: no expiry), then a final
// key length of 0 (keys are never empty in a record).

// snapEntry is one key as the snapshot saw it, copied under the lock
// (values are never changed in place, so the slice may be read later).
type snapEntry struct {
	key string
	val []byte
	ttl time.Duration // 0: no expiry
}

// Snapshot writes the store's live keys, their values and the TTLs they
// have left to w, for Restore in another broker (herd upgrade's new
// herd). The keys are copied under the lock and written after it, so
// clients are not held up by w; a write made meanwhile is not in the
// snapshot. Its size is bounded by Limits.MaxBytes.
func (b *Broker) Snapshot(w io.Writer) error {
	now := time.Now()
	entries := b.liveEntries(now)
	bw := bufio.NewWriterSize(w, 64<<10)
	// buf holds what comes before a record's value: the previous
	// record's TTL (or the header), the key and the value's length.
	buf := binary.AppendVarint([]byte(snapshotMagic), now.UnixNano())
	for _, e := range entries {
		buf = binary.AppendUvarint(buf, uint64(len(e.key)))
		buf = append(buf, e.key...)
		buf = binary.AppendUvarint(buf, uint64(len(e.val)))
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("statebroker: snapshot: %w", err)
		}
		bw.Write(e.val)
		buf = binary.AppendVarint(buf[:0], int64(e.ttl))
	}
	buf = binary.AppendUvarint(buf, 0)
	bw.Write(buf)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("statebroker: snapshot: %w", err)
	}
	return nil
}

// liveEntries copies the keys that have not expired at now.
func (b *Broker) liveEntries(now time.Time) []snapEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]snapEntry, 0, len(b.kv))
	for _, e := range b.kv {
		s := snapEntry{key: e.key, val: e.val}
		if !e.exp.IsZero() {
			if s.ttl = e.exp.Sub(now); s.ttl <= 0 {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// Restore loads a snapshot that Snapshot wrote into the store, before
// its clients use it (herd upgrade's new herd, before its workers start).
// A key's TTL keeps counting down: the time since the snapshot was taken
// (by the wall clock) is taken off, and a key whose TTL ran out
// meanwhile is not loaded. Keys past this broker's Limits (MaxKeys,
// MaxBytes, MaxValue) are skipped. It returns how many keys it loaded
// and skipped; a malformed or cut snapshot stops it with an error, the
// keys read until then loaded.
func (b *Broker) Restore(r io.Reader) (loaded, skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	taken, err := readSnapshotHeader(br)
	if err != nil {
		return 0, 0, err
	}
	elapsed := max(time.Since(taken), 0)
	for {
		e, err := b.readSnapEntry(br)
		if err != nil || e == nil {
			return loaded, skipped, err
		}
		if e.ttl != 0 && e.ttl <= elapsed {
			skipped++
			continue
		}
		if b.restoreEntry(e, elapsed) {
			loaded++
		} else {
			skipped++
		}
	}
}

// errSnapshot is the error for a malformed snapshot.
var errSnapshot = errors.New("statebroker: restore: malformed snapshot")

func readSnapshotHeader(br *bufio.Reader) (time.Time, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return time.Time{}, fmt.Errorf("%w: no header", errSnapshot)
	}
	ns, err := binary.ReadVarint(br)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", errSnapshot, err)
	}
	return time.Unix(0, ns), nil
}

// readSnapEntry reads one record; nil at the end of the snapshot.
func (b *Broker) readSnapEntry(br *bufio.Reader) (*snapEntry, error) {
	key, err := readSnapBytes(br, statewire.MaxName)
	if err != nil || len(key) == 0 {
		return nil, err
	}
	val, err := readSnapBytes(br, statewire.MaxValue)
	if err != nil {
		return nil, err
	}
	ttl, err := binary.ReadVarint(br)
	if err != nil || ttl < 0 {
		return nil, fmt.Errorf("%w: bad ttl", errSnapshot)
	}
	return &snapEntry{key: string(key), val: val, ttl: time.Duration(ttl)}, nil
}

// readSnapBytes reads a uvarint length, at most limit, and its bytes.
func readSnapBytes(br *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil || n > uint64(limit) {
		return nil, fmt.Errorf("%w: bad length", errSnapshot)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, fmt.Errorf("%w: %w", errSnapshot, err)
	}
	return p, nil
}

// restoreEntry stores e with the TTL it has left; false when a limit
// stops it.
func (b *Broker) restoreEntry(e *snapEntry, elapsed time.Duration) bool {
	if len(e.val) > b.lim.MaxValue {
		return false
	}
	now := time.Now()
	var exp time.Time
	if e.ttl != 0 {
		exp = now.Add(e.ttl - elapsed)
	}
	b.mu.Lock()
	defer b.unlock(nil)
	return !b.put(e.key, e.val, exp, false, now)
}

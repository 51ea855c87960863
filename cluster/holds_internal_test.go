package cluster

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHostileNodeDataBounded: the queryServer data kept for a socket is
// the first non-null data of at most maxNodeData bytes; larger data is
// echoed to its sender and not kept.
func TestHostileNodeDataBounded(t *testing.T) {
	t.Parallel()
	s := &socket{}
	big := json.RawMessage(`"` + strings.Repeat("a", 60<<10) + `"`)
	if got := s.shareNodeData(big); string(got) != string(big) || s.nodeData != nil {
		t.Fatalf("60 KiB of data: echoed %d bytes, kept %d", len(got), len(s.nodeData))
	}
	keys := json.RawMessage(`{"ticketKeys":"00ff"}`)
	s.shareNodeData(json.RawMessage("null"))
	if got := s.shareNodeData(keys); string(got) != string(keys) {
		t.Fatalf("first data: got %s", got)
	}
	if got := s.shareNodeData(json.RawMessage(`{"ticketKeys":"1234"}`)); string(got) != string(keys) {
		t.Fatalf("a later worker got %s, want the first worker's %s", got, keys)
	}
}

package ipc_test

import (
	"encoding/json"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// A json.RawMessage that is valid and on one line goes out byte for byte
// (the fast path: no re-encoding, so no HTML escaping and whitespace
// kept); a nil one is null, as encoding/json has it.
func TestSendRawVerbatim(t *testing.T) {
	testutil.CheckFDs(t)
	ch, p := rawPair(t, nil)
	for _, raw := range []string{`{"a": [1, 2.5e3], "s": "<&>\u00e9"}`, "\t\"x\" ", `-0`, `[{},[]]`} {
		mustSend(t, ch, json.RawMessage(raw))
		p.expectLine(raw)
	}
	mustSend(t, ch, json.RawMessage(nil))
	p.expectLine(`null`)
}

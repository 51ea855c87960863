package cluster_test

import (
	"sync/atomic"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

// nodeFlood sends 30,000 messages with process.send once it listens.
const nodeFlood = `
let i = 0;
function burst() {
  for (let k = 0; k < 1000 && i < 30000; k++, i++) process.send({i});
  if (i < 30000) setImmediate(burst);
}
require('net').createServer().listen(0, burst);
`

// TestNodeMessageFlood: OnMessage gets every one of a flood of messages
// (herd run limits only how many it logs, not what the library delivers).
func TestNodeMessageFlood(t *testing.T) {
	testutil.CheckFDs(t)
	var got atomic.Int64
	onMessage := func(_ cluster.WorkerInfo, m *ipc.Message) {
		m.CloseHandle()
		got.Add(1)
	}
	h := startNode(t, cluster.Config{Workers: 1, OnMessage: onMessage}, nodeFlood)
	h.waitReady(1)
	testutil.Eventually(t, "30,000 messages", func() bool { return got.Load() == 30000 })
	stopClean(t, h)
}

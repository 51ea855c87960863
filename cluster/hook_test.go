package cluster_test

import (
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

// The test process is no worker: HandleInternal refuses. (Package
// state's tests use it inside real clusters.)
func TestHandleInternalOutsideAWorker(t *testing.T) {
	t.Parallel()
	if err := cluster.HandleInternal("NODE_HERD_X", func(*ipc.Message) {}); err == nil {
		t.Fatal("HandleInternal succeeded outside a worker")
	}
	for _, cmd := range []string{"NODE_HERD", "NODE_HERD_", "OTHER"} {
		if err := cluster.HandleInternal(cmd, func(*ipc.Message) {}); err == nil {
			t.Fatalf("HandleInternal(%q) succeeded", cmd)
		}
	}
}

package cluster_test

// How Node workers are recognised and started.

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
)

func TestIsNodeProgram(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"node": true, "/usr/bin/node": true, "nodejs": true, "/opt/node20": true, "node18.1": true,
		"node-gyp": false, "nodemon": false, "/usr/bin/python3": false, "anode": false, "": false,
	} {
		if got := cluster.IsNodeProgram(name); got != want {
			t.Errorf("IsNodeProgram(%q) = %t", name, got)
		}
	}
}

// helperEnviron tells the primary whether it was started with
// NODE_UNIQUE_ID, and its GOMAXPROCS, then serves http.
func helperEnviron() {
	env, _ := os.ReadFile("/proc/self/environ")
	cluster.Channel().Send(map[string]any{"nodeID": bytes.Contains(env, []byte("\x00NODE_UNIQUE_ID=")), "procs": runtime.GOMAXPROCS(0)})
	helperHTTP()
}

// A Go worker runs with the GOMAXPROCS Config.WorkerProcs gives it.
func TestWorkerProcs(t *testing.T) {
	t.Parallel()
	got := make(chan int, 4)
	cfg := cluster.Config{Workers: 1, WorkerProcs: 3, OnMessage: func(_ cluster.WorkerInfo, m *ipc.Message) {
		var v struct{ Procs int }
		m.Decode(&v)
		got <- v.Procs
	}}
	h := start(t, cfg, "environ")
	h.waitReady(1)
	if n := <-got; n != 3 {
		t.Fatalf("the worker runs with GOMAXPROCS %d, want 3", n)
	}
}

// A Go worker never gets NODE_UNIQUE_ID, even when the primary has it: a
// Node program it started would take itself for a cluster worker without
// a channel, and silently exit 0.
func TestGoWorkerHasNoNodeUniqueID(t *testing.T) {
	t.Setenv("NODE_UNIQUE_ID", "7")
	got := make(chan bool, 4)
	cfg := cluster.Config{Workers: 1, OnMessage: func(_ cluster.WorkerInfo, m *ipc.Message) {
		var v struct{ NodeID bool }
		m.Decode(&v)
		got <- v.NodeID
	}}
	h := start(t, cfg, "environ")
	h.waitReady(1)
	if <-got {
		t.Fatal("the Go worker was started with NODE_UNIQUE_ID")
	}
}

// A Node worker's listen(PORT) takes a socket the primary bound before
// the workers on that port (Config.Listen, as herd run --listen binds it).
func TestNodeTakesPreboundPort(t *testing.T) {
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			port := strconv.Itoa(testutil.FreePort(t))
			cfg := cluster.Config{Workers: 2, Policy: pol, Listen: []cluster.Addr{{Network: "tcp", Address: "127.0.0.1:" + port}}}
			h := startNode(t, cfg, nodeHTTP, "PORT="+port)
			h.waitReady(2)
			url := "http://127.0.0.1:" + port + "/"
			t.Logf("spread %v", spread(t, h, func() string { return get(t, url) }))
			stopClean(t, h)
		})
	}
}

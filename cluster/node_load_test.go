package cluster_test

// Node workers under load: death and rolling reloads.

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// A worker killed under round-robin load leaves no connection open in the
// primary: Node's own primary keeps one forever (baselines.md item 5).
func TestNodeKilledUnderLoadLeavesNoSocket(t *testing.T) {
	for _, pol := range []cluster.Policy{cluster.RoundRobin, cluster.LeastConn} {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeHTTP)
			h.waitReady(2)
			url := "http://" + h.local() + "/"
			l := startLoad(url)
			for i := 0; i < 3; i++ {
				time.Sleep(300 * time.Millisecond)
				syscall.Kill(h.workers()[0].Pid, syscall.SIGKILL)
				h.waitReady(1)
			}
			time.Sleep(300 * time.Millisecond)
			close(l.stop)
			l.wg.Wait()
			t.Logf("requests ok=%d failed=%d (the killed workers' own)", l.ok.Load(), l.failed.Load())
			eventually(t, "no open TCP connection", func() bool { return openTCPConns() == 0 })
			spread(t, h, func() string { return get(t, url) })
		})
	}
}

// openTCPConns counts this process's TCP sockets that are not listening:
// the load's client sockets are closed, so any left is the primary's.
func openTCPConns() int {
	conns := map[string]bool{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] != "0A" { // 0A: LISTEN
				conns["socket:["+f[9]+"]"] = true
			}
		}
	}
	n := 0
	for _, target := range testutil.FDs() {
		if conns[target] {
			n++
		}
	}
	return n
}

// A rolling reload of Node workers under load fails no request: an old
// worker gets no connection once its replacement is ready, then the
// disconnect, and exits once its servers have closed.
func TestNodeRollingReloadLosesNothing(t *testing.T) {
	for _, pol := range []cluster.Policy{cluster.RoundRobin, cluster.LeastConn, cluster.Shared, cluster.ReusePort} {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol, KillTimeout: time.Minute}, nodeHTTP)
			h.waitReady(2)
			before := h.pids()
			l := startLoad("http://" + h.local() + "/")
			time.Sleep(300 * time.Millisecond)
			if err := h.p.Reload(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "reload to finish", func() bool { return h.count(cluster.EventReload) == 2 })
			eventually(t, "old workers to exit", func() bool { return h.count(cluster.EventExit) == 2 })
			time.Sleep(300 * time.Millisecond)
			l.finish(t)
			for pid := range h.pids() {
				if before[pid] {
					t.Fatalf("worker %s survived the reload", pid)
				}
			}
			stopClean(t, h)
		})
	}
}

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
	testutil.SkipIfShort(t, "three kills under load (TestNodeWorkerKilled is the fast one)")
	for _, pol := range testutil.FirstIfShort([]cluster.Policy{cluster.RoundRobin, cluster.LeastConn}) {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			// Only this primary's connections count: one an earlier test
			// left in this process (seen on a loaded machine: the same
			// socket in both subtests, CLOSE_WAIT) is not this test's.
			before := openTCPConns()
			if len(before) > 0 {
				t.Logf("TCP connections open before the test, not counted: %v", before)
			}
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
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				var left []string
				for sock, desc := range openTCPConns() {
					if _, old := before[sock]; !old {
						left = append(left, desc)
					}
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("TCP connections still open in the primary: %v; stats: %+v", left, h.stats())
				}
			}
			spread(t, h, func() string { return get(t, url) })
		})
	}
}

// openTCPConns lists this process's TCP sockets that are not listening,
// by socket ("socket:[inode]") with their fd, local and remote address
// and state as in /proc/net/tcp: the load's client sockets are closed, so
// any left is the primary's.
func openTCPConns() map[string]string {
	conns := map[string]string{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] != "0A" { // 0A: LISTEN
				conns["socket:["+f[9]+"]"] = f[1] + "->" + f[2] + " st=" + f[3]
			}
		}
	}
	out := map[string]string{}
	for fd, target := range testutil.FDs() {
		if c, ok := conns[target]; ok {
			out[target] = "fd " + fd + " " + c
		}
	}
	return out
}

// A rolling reload of Node workers under load fails no request, on new
// connections or keep-alive ones: an old worker gets no connection once
// its replacement is ready, then the disconnect, answers the requests
// that follow with "Connection: close" (herd's preload), and exits once
// its servers have closed.
func TestNodeRollingReloadLosesNothing(t *testing.T) {
	for _, pol := range testutil.FirstIfShort([]cluster.Policy{cluster.RoundRobin, cluster.LeastConn, cluster.Shared, cluster.ReusePort}) {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol, KillTimeout: time.Minute}, nodeHTTP)
			h.waitReady(2)
			before := h.pids()
			l := startLoad("http://" + h.local() + "/")
			ka := startKeepAliveLoad(h.local())
			time.Sleep(300 * time.Millisecond)
			if err := h.p.Reload(); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "reload to finish", func() bool { return h.count(cluster.EventReload) == 2 })
			testutil.Eventually(t, "old workers to exit", func() bool { return h.count(cluster.EventExit) == 2 })
			time.Sleep(300 * time.Millisecond)
			l.finish(t)
			ka.finish(t)
			for pid := range h.pids() {
				if before[pid] {
					t.Fatalf("worker %s survived the reload", pid)
				}
			}
			stopClean(t, h)
		})
	}
}

package cluster_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// helperHoard: worker 1 takes round-robin connections and never accepts
// them (they wait in its listener's queue), and leaves its exit to the
// library; later workers serve http.
func helperHoard() {
	if cluster.WorkerID() != 1 {
		helperHTTP()
		return
	}
	if _, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR")); err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	select {}
}

// A draining worker gives the connections it took and had not accepted
// back to the primary, and exits only once the primary has them all: they
// are answered by the replacement, none is reset.
func TestDrainingWorkerGivesBackItsQueue(t *testing.T) {
	t.Parallel()
	h := start(t, cluster.Config{Workers: 1}, "hoard")
	h.waitReady(1)
	const n = 12
	url := h.url()
	var wg sync.WaitGroup
	answers := make(chan string, n)
	for range n {
		wg.Go(func() {
			resp, err := noKeepAlive.Get(url)
			if err != nil {
				answers <- "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			var id, pid int
			fmt.Fscan(resp.Body, &id, &pid)
			answers <- fmt.Sprint("worker ", id)
		})
	}
	testutil.Eventually(t, "the hoarding worker to hold every connection", func() bool {
		w := h.workers()
		return len(w) == 1 && w[0].Handed == n
	})
	if err := h.p.Reload(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(answers)
	var bad []string
	for a := range answers {
		if a != "worker 2" {
			bad = append(bad, a)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d connections given back were not answered by the replacement: %s", len(bad), n, strings.Join(bad, "; "))
	}
}

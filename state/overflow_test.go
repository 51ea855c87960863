package state_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
)

// TestStoppedWorkerDropsOldestAndStallsNoOne: a subscriber that stops
// reading altogether (SIGSTOP) does not slow its publisher, loses its
// oldest messages in the primary, and is told so when it resumes.
func TestStoppedWorkerDropsOldestAndStallsNoOne(t *testing.T) {
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	a := startAgentsWith(t, "embedded://", 2, func(c *cluster.Config) {
		c.State.QueueMessages = 100
		c.MaxMessage = 64 << 20 // the subscriber's answer to peek holds every item: megabytes
	})
	ids := a.ids()
	sub, pub := ids[0], ids[1]
	a.call(sub, command{Op: "sub", Key: "flood", Chans: []string{"flood"}, N: 1 << 30})
	pid := pidOf(t, a, sub)
	syscall.Kill(pid, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	// 3000 messages of 16 KiB: far more than the socket and the queue
	// hold for the stopped worker.
	a.call(pub, command{Op: "pubBig", Chans: []string{"flood"}, N: 3000})
	st, err := a.p.StateStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped == 0 {
		t.Fatalf("nothing was dropped for the stopped worker: %+v", st)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	stopped = false
	var items []string
	testutil.Eventually(t, "the last message", func() bool {
		items = a.call(sub, command{Op: "peek", Key: "flood"}).Items
		return len(items) > 0 && strings.HasSuffix(items[len(items)-1], ":2999")
	})
	notices := 0
	for _, it := range items {
		if strings.HasPrefix(it, "!") {
			notices++
			if !strings.Contains(it, "dropped") {
				t.Fatalf("notice %q", it)
			}
		}
	}
	t.Logf("dropped in the primary: %d; the subscriber got %d items, %d notices", st.Dropped, len(items), notices)
	if notices == 0 {
		t.Fatal("the subscriber was not told of the loss")
	}
}

// TestDisabledStore: with the store disabled, a worker's Open fails and
// says why.
func TestDisabledStore(t *testing.T) {
	testutil.CheckGoroutines(t)
	testutil.CheckFDs(t)
	a := startAgentsWith(t, "embedded://", 1, func(c *cluster.Config) { c.State.Disabled = true })
	r := a.wait(a.send(a.ids()[0], command{Op: "get", Key: "k"}), command{})
	if !strings.Contains(r.Err, "disabled") {
		t.Fatalf("a worker of a cluster without a store got %+v", r)
	}
	if _, err := a.p.StateStats(); err == nil {
		t.Fatal("StateStats of a disabled store succeeded")
	}
}

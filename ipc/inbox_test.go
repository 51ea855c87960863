package ipc

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func seqMessages(from, n int) []*Message {
	out := make([]*Message, n)
	for i := range out {
		out[i] = &Message{Data: []byte(strconv.Itoa(from + i))}
	}
	return out
}

func seqOf(t *testing.T, m *Message) int {
	t.Helper()
	n, err := strconv.Atoi(string(m.Data))
	if err != nil {
		t.Fatalf("message %q", m.Data)
	}
	return n
}

// The reader waits while limit messages wait, and order is kept.
func TestInboxLimit(t *testing.T) {
	b := newInbox(3)
	done := make(chan struct{})
	put := make(chan []*Message)
	go func() { put <- b.put(seqMessages(0, 10), done) }()
	var waiting int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) { // until put waits for room
		b.mu.Lock()
		full := b.full
		waiting = len(b.q) - b.head
		b.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("put does not wait for room (%d messages wait)", waiting)
		}
	}
	if waiting != 3 {
		t.Fatalf("%d messages wait, want the limit, 3", waiting)
	}
	for want := range 10 {
		m, ok, _ := b.take(nil)
		if !ok || seqOf(t, m) != want {
			t.Fatalf("took %v %v, want message %d", m, ok, want)
		}
	}
	if left := <-put; left != nil {
		t.Fatalf("put left %d messages", len(left))
	}
}

// A reader waiting for room gives up when the channel closes, and returns
// what it could not add.
func TestInboxPutGivesUp(t *testing.T) {
	b := newInbox(2)
	done := make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(done) })
	if left := b.put(seqMessages(0, 5), done); len(left) != 3 || seqOf(t, left[0]) != 2 {
		t.Fatalf("left %d messages, want 3 from message 2", len(left))
	}
	if got := len(b.drain()); got != 2 {
		t.Fatalf("drained %d, want 2", got)
	}
}

// Concurrent receivers get every message once, each in increasing order,
// and all of them see the end.
func TestInboxConcurrentTakers(t *testing.T) {
	const total, takers = 20000, 4
	b := newInbox(64)
	got := make([][]int, takers)
	var wg sync.WaitGroup
	for i := range takers {
		wg.Go(func() {
			for {
				m, ok, _ := b.take(nil)
				if !ok {
					return
				}
				got[i] = append(got[i], seqOf(t, m))
			}
		})
	}
	for sent := 0; sent < total; {
		n := min(1+sent%97, total-sent)
		b.put(seqMessages(sent, n), nil)
		sent += n
	}
	b.close()
	wg.Wait()
	seen := make([]bool, total)
	for _, seq := range got {
		for j, n := range seq {
			if seen[n] || j > 0 && n <= seq[j-1] {
				t.Fatalf("message %d taken twice or out of order", n)
			}
			seen[n] = true
		}
	}
	for n, ok := range seen {
		if !ok {
			t.Fatalf("message %d lost", n)
		}
	}
}

// A canceled wait returns at once and leaves the inbox working.
func TestInboxCancel(t *testing.T) {
	b := newInbox(4)
	cancel := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(cancel) })
	if _, ok, canceled := b.take(cancel); ok || !canceled {
		t.Fatalf("take: ok %v canceled %v, want canceled", ok, canceled)
	}
	b.put(seqMessages(7, 1), nil)
	if m, ok, _ := b.take(nil); !ok || seqOf(t, m) != 7 {
		t.Fatal("the inbox does not work after a canceled take")
	}
	b.close()
	if _, ok, canceled := b.take(nil); ok || canceled {
		t.Fatal("take on a closed, empty inbox did not report the end")
	}
}

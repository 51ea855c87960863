package logfile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTailReadsRotatedFilesInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := Open(path, 100, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		fmt.Fprintf(w, "line %02d\n", i)
	}
	w.Write([]byte("no newline"))
	w.Close()
	var got []string
	caught := false
	err = Tail(context.Background(), path, false, func(b []byte) { got = append(got, string(b)) }, func() { caught = true })
	if err != nil || !caught {
		t.Fatal(err, caught)
	}
	// 4 files of up to 100 bytes (8 bytes a line, 12 lines a file) hold the last lines.
	if n := len(got); n < 20 || got[n-1] != "no newline" || got[n-2] != "line 19" {
		t.Fatalf("lines %q", got)
	}
	for i := 1; i < len(got)-1; i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %q", got)
		}
	}
	if err := Tail(context.Background(), path+".missing", false, func([]byte) {}, func() {}); err == nil {
		t.Fatal("no error for a missing log")
	}
}

func TestTailFollowsThroughRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := Open(path, 180, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fmt.Fprintf(w, "before\n")
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	caught := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, path, true, func(b []byte) {
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
		}, func() { close(caught) })
	}()
	<-caught
	seen := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	for i := 0; i < 30; i++ {
		// A file holds 20 lines: the polls see every one if the follower
		// is never more than half a file behind (it may be, for a while,
		// on a busy machine, if the writer does not wait for it).
		for deadline := time.Now().Add(20 * time.Second); i >= 10 && seen() < i-8; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the follower is stuck at %d lines", seen())
			}
		}
		fmt.Fprintf(w, "after %02d\n", i)
		time.Sleep(30 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		last := ""
		if n > 0 {
			last = got[n-1]
		}
		mu.Unlock()
		if last == "after 29" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("followed %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"before"}
	for i := 0; i < 30; i++ {
		want = append(want, fmt.Sprintf("after %02d", i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("followed\n%q\nwant\n%q", got, want)
	}
}

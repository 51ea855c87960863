//go:build chaos

package chaos

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// failure is one request that failed, with its life span.
type failure struct {
	start, end time.Time
	err        string
}

// window is a span during which requests in flight may fail: from a
// SIGKILL of a worker to the moment it was seen dead.
type window struct{ from, to time.Time }

// load is a steady, bounded load: clients that each make a request on a
// new connection, wait 1 ms, and again, until stopped (or a limit).
type load struct {
	url      string
	ok       atomic.Int64
	inFlight atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
	started  time.Time
	stopped  time.Time

	mu       sync.Mutex
	failures []failure
	byPid    map[int]int64
}

const (
	loadClients  = 4
	loadPause    = time.Millisecond
	loadTimeout  = 10 * time.Second // a request with no answer by then is "hung"
	loadMaxCount = 1_000_000        // per client
	loadMaxTime  = 10 * time.Minute
	maxFailures  = 100_000 // kept for attribution
)

func startLoad(url string) *load {
	l := &load{url: url, stop: make(chan struct{}), started: time.Now(), byPid: map[int]int64{}}
	for c := 0; c < loadClients; c++ {
		l.wg.Add(1)
		go l.client()
	}
	return l
}

func (l *load) client() {
	defer l.wg.Done()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: loadTimeout}
	deadline := time.Now().Add(loadMaxTime)
	for i := 0; i < loadMaxCount && time.Now().Before(deadline); i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		start := time.Now()
		l.inFlight.Add(1)
		pid, err := get(cl, l.url)
		l.inFlight.Add(-1)
		l.mu.Lock()
		if err != nil {
			if len(l.failures) < maxFailures {
				l.failures = append(l.failures, failure{start, time.Now(), err.Error()})
			}
		} else {
			l.ok.Add(1)
			l.byPid[pid]++
		}
		l.mu.Unlock()
		time.Sleep(loadPause)
	}
}

// finish stops the clients and waits for them.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
	l.stopped = time.Now()
}

// failed returns the failures so far.
func (l *load) failed() []failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]failure(nil), l.failures...)
}

func (l *load) rate() float64 {
	end := l.stopped
	if end.IsZero() {
		end = time.Now()
	}
	return float64(l.ok.Load()) / end.Sub(l.started).Seconds()
}

// unexplained returns the failures that were not in flight during any of
// the windows.
func unexplained(fs []failure, ws []window) []failure {
	var out []failure
	for _, f := range fs {
		explained := false
		for _, w := range ws {
			if !f.start.After(w.to) && !f.end.Before(w.from) {
				explained = true
				break
			}
		}
		if !explained {
			out = append(out, f)
		}
	}
	return out
}

// hung counts the failures that were timeouts.
func hung(fs []failure) int {
	n := 0
	for _, f := range fs {
		if strings.Contains(f.err, "Timeout") || strings.Contains(f.err, "timeout") {
			n++
		}
	}
	return n
}

func describe(fs []failure, n int) string {
	var b strings.Builder
	for i, f := range fs {
		if i == n {
			fmt.Fprintf(&b, "... and %d more", len(fs)-n)
			break
		}
		fmt.Fprintf(&b, "\n  %s +%s: %s", f.start.Format("15:04:05.000"), f.end.Sub(f.start).Round(time.Microsecond), f.err)
	}
	return b.String()
}

// get makes one request and returns the pid the worker answered.
func get(cl *http.Client, url string) (int, error) {
	resp, err := cl.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New(resp.Status)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

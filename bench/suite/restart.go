package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var restartKinds = []string{"herd rr", "node cluster rr", "node cluster none", "pm2 -i 2"}
var reloadKinds = []string{"herd rr", "herd reuseport", "pm2 -i 2"}
var upgradeKinds = []string{"herd rr"}

func kindNamed(name string) kind {
	for _, k := range nodeKinds {
		if k.name == name {
			return k
		}
	}
	panic("no kind " + name)
}

// restartStats is what SIGKILLs of workers cost one kind.
type restartStats struct {
	firstMs   []float64 // kill → first answer from a new worker
	hung      int       // probes with no answer within 1 s
	failed    int       // probes that failed otherwise
	ok        int
	leftOpen  []int // per round: sockets still open in the primary after the probes ended
	kills     int
	noReplace int // kills after which no new worker answered within 10 s
}

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}

// benchRestart kills one worker at a time under 4 probes (a new
// connection each, 2 ms apart, 1 s timeout) and times the first answer
// from a new worker, as baselines.md §5a did.
func benchRestart(e *env, o opts) (map[string]*restartStats, error) {
	res := map[string]*restartStats{}
	for r := 0; r < o.rounds; r++ {
		for i := range restartKinds {
			name := restartKinds[(i+r)%len(restartKinds)]
			st := res[name]
			if st == nil {
				st = &restartStats{}
				res[name] = st
			}
			if err := restartRound(e, o, kindNamed(name), st); err != nil {
				return nil, fmt.Errorf("restart round %d, %s: %w", r+1, name, err)
			}
			log.Printf("restart round %d %-18s first answer %v ms, hung %d, failed %d, left open %v", r+1, name,
				st.firstMs[max(0, len(st.firstMs)-o.kills):], st.hung, st.failed, st.leftOpen)
		}
	}
	return res, nil
}

func restartRound(e *env, o opts, k kind, st *restartStats) error {
	s, err := startServer(e, k)
	if err != nil {
		return err
	}
	defer s.stop()
	for i := 0; i < o.kills; i++ {
		old := s.workers()
		if len(old) == 0 {
			return fmt.Errorf("no workers")
		}
		victim := old[i%len(old)]
		t0 := time.Now()
		syscall.Kill(victim, syscall.SIGKILL)
		st.kills++
		ms, ok, hung, failed := probeUntilNew(s.url(), old, 10*time.Second)
		st.ok, st.hung, st.failed = st.ok+ok, st.hung+hung, st.failed+failed
		if ms < 0 {
			st.noReplace++
		} else {
			st.firstMs = append(st.firstMs, ms)
		}
		if err := waitServing(s, 2, 30*time.Second); err != nil {
			return err
		}
		// Space the kills: a worker that lived 1 s resets herd's backoff
		// (--restart-window 1s), and PM2's min_uptime is 1 s.
		time.Sleep(time.Until(t0.Add(1500 * time.Millisecond)))
	}
	time.Sleep(300 * time.Millisecond)
	_, cw := openSockets(s.primary, s.port)
	st.leftOpen = append(st.leftOpen, cw)
	return nil
}

// probeUntilNew runs 4 probes until one is answered by a pid not in old;
// it returns the time that took in ms (-1 if never) and the probes' fates.
func probeUntilNew(url string, old []int, limit time.Duration) (ms float64, ok, hung, failed int) {
	t0 := time.Now()
	var found atomic.Int64 // ns since t0, 0 until found
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for found.Load() == 0 && time.Since(t0) < limit {
				pid, err := getPidWith(probeClient, url)
				mu.Lock()
				switch {
				case err == nil:
					ok++
					if !slices.Contains(old, pid) {
						found.CompareAndSwap(0, int64(time.Since(t0)))
					}
				case isTimeout(err):
					hung++
				default:
					failed++
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if f := found.Load(); f > 0 {
		return float64(f) / 1e6, ok, hung, failed
	}
	return -1, ok, hung, failed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func getPidWith(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return pidOf(string(b))
}

// reloadRun is one rolling reload under load.
type reloadRun struct {
	seconds          float64
	ok, failed, hung int64
	replaced         bool // no worker of before the reload is left
	err              string
}

// benchReload runs rolling reloads under a Go load loop (8 clients,
// keep-alive or a new connection per request) and counts what failed.
func benchReload(e *env, o opts) (map[string]map[string][]reloadRun, error) {
	res := map[string]map[string][]reloadRun{}
	for r := 0; r < o.rounds; r++ {
		for i := range reloadKinds {
			name := reloadKinds[(i+r)%len(reloadKinds)]
			if res[name] == nil {
				res[name] = map[string][]reloadRun{}
			}
			for _, m := range modes {
				rr, err := changeRound(e, kindNamed(name), m == "keep-alive", func(s *server) error { return s.reload() })
				if err != nil {
					return nil, fmt.Errorf("reload round %d, %s: %w", r+1, name, err)
				}
				res[name][m] = append(res[name][m], rr)
				log.Printf("reload round %d %-18s %-10s %.2f s, ok %d, failed %d, hung %d, replaced %v %s", r+1, name, m,
					rr.seconds, rr.ok, rr.failed, rr.hung, rr.replaced, rr.err)
			}
		}
	}
	return res, nil
}

// benchUpgrade runs herd upgrade under the same load as benchReload:
// the time from herd upgrade to its return, and the requests served and
// failed meanwhile (from 0.5 s before to 0.5 s after).
func benchUpgrade(e *env, o opts) (map[string]map[string][]reloadRun, error) {
	res := map[string]map[string][]reloadRun{}
	for r := 0; r < o.rounds; r++ {
		for _, name := range upgradeKinds {
			if res[name] == nil {
				res[name] = map[string][]reloadRun{}
			}
			for _, m := range modes {
				rr, err := changeRound(e, kindNamed(name), m == "keep-alive", func(s *server) error { return s.upgrade() })
				if err != nil {
					return nil, fmt.Errorf("upgrade round %d, %s: %w", r+1, name, err)
				}
				res[name][m] = append(res[name][m], rr)
				log.Printf("upgrade round %d %-18s %-10s %.2f s, ok %d, failed %d, hung %d, replaced %v %s", r+1, name, m,
					rr.seconds, rr.ok, rr.failed, rr.hung, rr.replaced, rr.err)
			}
		}
	}
	return res, nil
}

// changeRound starts a server of kind k, puts it under load, and times
// change (a reload or an upgrade) and counts the requests around it.
func changeRound(e *env, k kind, keepAlive bool, change func(*server) error) (reloadRun, error) {
	s, err := startServer(e, k)
	if err != nil {
		return reloadRun{}, err
	}
	defer s.stop()
	before := s.workers()
	l := startLoad(s.url(), 8, keepAlive, 5*time.Minute)
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	var rr reloadRun
	if err := change(s); err != nil {
		rr.err = err.Error()
	}
	rr.seconds = time.Since(t0).Seconds()
	time.Sleep(500 * time.Millisecond)
	l.finish()
	rr.ok, rr.failed, rr.hung = l.ok.Load(), l.failed.Load(), l.hung.Load()
	if len(l.samples) > 0 {
		log.Printf("reload %s: first errors: %s", s.name, strings.Join(l.samples, " | "))
	}
	after := s.workers()
	rr.replaced = len(after) > 0
	for _, p := range after {
		if slices.Contains(before, p) {
			rr.replaced = false
		}
	}
	return rr, nil
}

// load is a bounded request loop: clients POST (never retried by Go's
// client) until finish, at most an hour's worth of a deadline.
type load struct {
	ok, failed, hung atomic.Int64
	stop             chan struct{}
	wg               sync.WaitGroup
	mu               sync.Mutex
	samples          []string // the first errors, for the log
}

func (l *load) sample(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < 3 {
		l.samples = append(l.samples, err.Error())
	}
}

func startLoad(url string, clients int, keepAlive bool, limit time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	deadline := time.Now().Add(limit)
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 2 * time.Second}
			for i := 0; i < 10_000_000 && time.Now().Before(deadline); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := cl.Post(url, "text/plain", strings.NewReader("x"))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				switch {
				case err == nil:
					l.ok.Add(1)
				case isTimeout(err):
					l.hung.Add(1)
					l.sample(err)
				default:
					l.failed.Add(1)
					l.sample(err)
				}
			}
		}()
	}
	return l
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

package main

import (
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"time"
)

var modes = []string{"keep-alive", "close"}

// httpRun is one measured wrk run against one server.
type httpRun struct {
	rps, p50, p99   float64
	errors          int
	primaryUsPerReq float64 // primary CPU (utime+stime) per request: per connection with close
	serverUsPerReq  float64 // primary and workers
	spread          float64 // answers max/min across workers, from the tally run
	rssLoaded       int64   // primary VmRSS right after the run
	rssPeak         int64   // primary VmHWM
}

// serverRun is one server started for one round: both modes, and memory.
type serverRun struct {
	idleRSS, workerRSS int64 // primary; each worker (mean), idle after start
	watchdogRSS        int64 // herd's watchdog process, idle
	runs               map[string]httpRun
}

// httpResults holds every serverRun by kind, in round order.
type httpResults map[string][]serverRun

// benchNode runs section 1: the Node app under every kind, rounds
// interleaved, each round starting at another kind.
func benchNode(e *env, o opts) (httpResults, error) {
	res := httpResults{}
	for r := 0; r < o.rounds; r++ {
		for i := range nodeKinds {
			k := nodeKinds[(i+r)%len(nodeKinds)]
			sr, err := measureNode(e, o, k)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", r+1, k.name, err)
			}
			res[k.name] = append(res[k.name], sr)
			for _, m := range modes {
				h := sr.runs[m]
				log.Printf("node  round %d %-18s %-10s %8.0f req/s p50 %5.2f p99 %6.2f ms err %d primary %6.1f µs/req spread %.2f rss %.1f MiB",
					r+1, k.name, m, h.rps, h.p50, h.p99, h.errors, h.primaryUsPerReq, h.spread, mib(sr.idleRSS))
			}
		}
	}
	return res, nil
}

func measureNode(e *env, o opts, k kind) (serverRun, error) {
	s, err := startServer(e, k)
	if err != nil {
		return serverRun{}, err
	}
	defer s.stop()
	time.Sleep(o.idle)
	sr := serverRun{idleRSS: rss(s.primary), runs: map[string]httpRun{}}
	if wd := watchdogOf(s.primary); wd > 0 {
		sr.watchdogRSS = rss(wd)
	}
	ws := s.workers()
	for _, w := range ws {
		sr.workerRSS += rss(w)
	}
	if len(ws) > 0 {
		sr.workerRSS /= int64(len(ws))
	}
	tally, shape, err := scripts(e, s)
	if err != nil {
		return sr, err
	}
	for _, m := range modes {
		close := m == "close"
		if _, out, err := wrk(s.url(), close, o.warm, o.conns, shape); err != nil {
			return sr, fmt.Errorf("warm-up: %w\n%s", err, out)
		}
		ws := s.workers()
		p0, w0 := cpuTicks(s.primary), sumTicks(ws)
		w, out, err := wrk(s.url(), close, o.duration, o.conns, shape)
		if err != nil {
			return sr, fmt.Errorf("%w\n%s", err, out)
		}
		p1, w1 := cpuTicks(s.primary), sumTicks(ws)
		h := httpRun{rps: w.rps, p50: w.p50, p99: w.p99, errors: w.errors, rssLoaded: rss(s.primary), rssPeak: peak(s.primary)}
		if w.requests > 0 {
			h.primaryUsPerReq = float64(p1-p0) * 1e4 / float64(w.requests)
			h.serverUsPerReq = float64(p1-p0+w1-w0) * 1e4 / float64(w.requests)
		}
		t, out, err := wrk(s.url(), close, o.tally, o.conns, tally)
		if err != nil {
			return sr, fmt.Errorf("tally: %w\n%s", err, out)
		}
		h.spread = spread(t.tally, len(ws))
		sr.runs[m] = h
	}
	return sr, nil
}

// scripts returns the wrk scripts for s: the tally run's (tally.lua, after
// s.script if any) and the measured runs' (s.script, or none).
func scripts(e *env, s *server) (tally, shape string, err error) {
	tally = filepath.Join(e.nodeDir, "tally.lua")
	if s.script == "" {
		return tally, "", nil
	}
	shape = filepath.Join(e.nodeDir, s.script)
	a, err1 := os.ReadFile(shape)
	b, err2 := os.ReadFile(tally)
	if err := errors.Join(err1, err2); err != nil {
		return "", "", err
	}
	tally = filepath.Join(e.tmp, "tally-"+s.script)
	return tally, shape, os.WriteFile(tally, append(append(a, '\n'), b...), 0o644)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ratio is a/b, NaN when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

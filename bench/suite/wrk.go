package main

import (
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrkResult is one wrk run.
type wrkResult struct {
	rps, p50, p99 float64 // requests/s; latency percentiles in ms
	requests      int
	errors        int            // socket errors (connect, read, write, timeout) + non-2xx
	tally         map[string]int // answers by body, with the tally script
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	reErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reTally    = regexp.MustCompile(`(?m)^tally (.*)\t(\d+)$`)
)

// wrk runs wrk -t1 -cN -dD --latency against url, with a new connection
// per request when close is set, and the tally script when script is
// not empty.
func wrk(url string, close bool, d time.Duration, conns int, script string) (wrkResult, string, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency", "--timeout", "2s"}
	if close {
		args = append(args, "-H", "Connection: close")
	}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out)), string(out), nil
}

func parseWrk(out string) wrkResult {
	var m wrkResult
	if s := reRPS.FindStringSubmatch(out); s != nil {
		m.rps, _ = strconv.ParseFloat(s[1], 64)
	}
	if s := reRequests.FindStringSubmatch(out); s != nil {
		m.requests, _ = strconv.Atoi(s[1])
	}
	for _, s := range reLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(s[2], 64)
		v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[s[3]]
		if s[1] == "50" {
			m.p50 = v
		} else {
			m.p99 = v
		}
	}
	if s := reErrors.FindStringSubmatch(out); s != nil {
		for _, n := range s[1:] {
			k, _ := strconv.Atoi(n)
			m.errors += k
		}
	}
	if s := reNon2xx.FindStringSubmatch(out); s != nil {
		k, _ := strconv.Atoi(s[1])
		m.errors += k
	}
	for _, s := range reTally.FindAllStringSubmatch(out, -1) {
		if m.tally == nil {
			m.tally = map[string]int{}
		}
		m.tally[strings.TrimSpace(s[1])], _ = strconv.Atoi(s[2])
	}
	return m
}

// spread is max/min of the answers per worker, over the workers that
// should have answered (a worker that got nothing makes it infinite).
func spread(tally map[string]int, workers int) float64 {
	var counts []int
	for _, n := range tally {
		counts = append(counts, n)
	}
	for len(counts) < workers {
		counts = append(counts, 0)
	}
	if len(counts) == 0 {
		return 0
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == 0 {
		return math.Inf(1)
	}
	return float64(hi) / float64(lo)
}

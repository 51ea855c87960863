package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herdhq/herd/internal/procstat"
)

// sample is the primary's resident memory at a moment.
type sample struct {
	at  time.Duration // since the start
	rss int64
}

// sampleLoop reads the primary's RSS every second until ctx is done.
func (d *driver) sampleLoop(ctx context.Context, start time.Time) {
	every(ctx, time.Second, func() {
		s, err := procstat.Read(d.pid)
		if err != nil {
			return
		}
		at := time.Since(start)
		if d.warmMetrics == nil && at >= d.s.warmup {
			d.warmMetrics, _ = scrape(d.metrics)
		}
		d.mu.Lock()
		d.samples = append(d.samples, sample{at: at, rss: s.RSS})
		d.mu.Unlock()
	})
}

// result is what the soak measured.
type result struct {
	warm, end, peak  int64 // RSS: after warm-up, at the end (medians), the most
	restarts         int   // worker starts past the first ones
	messages         int   // user messages the primary received
	connections      int   // connections it handed over
	requests, failed int
	crashes, reloads int
	goroutines, heap [2]float64 // the primary's, after warm-up and at the end
	samples          []sample
}

// result gathers the measures at the end of the run.
func (d *driver) result(start time.Time) (*result, error) {
	m, err := scrape(d.metrics)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &result{samples: d.samples, requests: d.requests, failed: d.failed, crashes: d.crashes, reloads: d.reloads,
		restarts:    int(m["herd_worker_starts_total"]) - d.s.workers,
		messages:    int(m[`herd_ipc_messages_received_total{kind="user"}`]),
		connections: int(m["herd_connections_handed_total"]),
	}
	r.goroutines[0], r.heap[0] = d.warmMetrics["go_goroutines"], d.warmMetrics["go_memstats_heap_inuse_bytes"]
	r.goroutines[1], r.heap[1] = m["go_goroutines"], m["go_memstats_heap_inuse_bytes"]
	r.warm = medianRSS(d.samples, d.s.warmup-5*time.Second, d.s.warmup)
	last := d.samples[len(d.samples)-1].at
	r.end = medianRSS(d.samples, last-5*time.Second, last)
	for _, s := range d.samples {
		r.peak = max(r.peak, s.rss)
	}
	return r, nil
}

// medianRSS is the median RSS of the samples taken in [from, to].
func medianRSS(samples []sample, from, to time.Duration) int64 {
	var v []int64
	for _, s := range samples {
		if s.at >= from && s.at <= to {
			v = append(v, s.rss)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// scrape reads Prometheus text as "name{labels}" → value.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body), nil
}

func parseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

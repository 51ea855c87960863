package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is the primary's resident memory at a moment, in bytes.
type sample struct {
	at         time.Duration // since the start
	rss        int64
	anon, file int64 // RssAnon (heap, stacks) and RssFile (herd's code paged in)
}

// readSample reads a process's resident memory from /proc/PID/status.
func readSample(pid int) (sample, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return sample{}, err
	}
	var s sample
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n << 10
		case "RssAnon":
			s.anon = n << 10
		case "RssFile":
			s.file = n << 10
		}
	}
	return s, nil
}

// sampleLoop reads the primary's memory every second until ctx is done,
// and its metrics once the warm-up is over.
func (d *driver) sampleLoop(ctx context.Context, start time.Time) {
	every(ctx, time.Second, func() {
		s, err := readSample(d.pid)
		if err != nil {
			return
		}
		s.at = time.Since(start)
		if d.warmMetrics == nil && s.at >= d.s.warmup {
			d.warmMetrics, _ = scrape(d.metrics)
		}
		d.mu.Lock()
		d.samples = append(d.samples, s)
		d.mu.Unlock()
	})
}

// result is what the soak measured.
type result struct {
	warm, end        sample // medians over the window after the warm-up, and the run's last
	window           time.Duration
	peak             int64 // RSS
	restarts         int   // worker starts past the first ones
	messages         int   // user messages the primary received
	connections      int   // connections it handed over
	requests, failed int
	crashes, reloads int
	hostiles         []string   // the hostile attacks made
	goroutines, live [2]float64 // the primary's goroutines and live heap, after warm-up and at the end
	samples          []sample
}

// result gathers the measures at the end of the run.
func (d *driver) result() (*result, error) {
	m, err := scrape(d.metrics)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.samples) == 0 || d.warmMetrics == nil {
		return nil, fmt.Errorf("soak: no samples")
	}
	r := &result{samples: d.samples, requests: d.requests, failed: d.failed, crashes: d.crashes, reloads: d.reloads,
		hostiles:    d.hostiles,
		restarts:    int(m["herd_worker_starts_total"]) - d.s.workers,
		messages:    int(m[`herd_ipc_messages_received_total{kind="user"}`]),
		connections: int(m["herd_connections_handed_total"]),
		window:      min(max(d.s.duration/10, 5*time.Second), time.Minute),
	}
	r.goroutines = [2]float64{d.warmMetrics["go_goroutines"], m["go_goroutines"]}
	r.live = [2]float64{d.warmMetrics["go_gc_heap_live_bytes"], m["go_gc_heap_live_bytes"]}
	r.warm = medianOver(d.samples, d.s.warmup, d.s.warmup+r.window)
	last := d.samples[len(d.samples)-1].at
	r.end = medianOver(d.samples, last-r.window, last)
	for _, s := range d.samples {
		r.peak = max(r.peak, s.rss)
	}
	return r, nil
}

// medianOver is the median of each measure over the samples taken in
// [from, to].
func medianOver(samples []sample, from, to time.Duration) sample {
	var rss, anon, file []int64
	for _, s := range samples {
		if s.at >= from && s.at <= to {
			rss, anon, file = append(rss, s.rss), append(anon, s.anon), append(file, s.file)
		}
	}
	return sample{at: from, rss: median(rss), anon: median(anon), file: median(file)}
}

func median(v []int64) int64 {
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

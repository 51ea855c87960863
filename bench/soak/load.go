package main

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/herdhq/herd/control"
)

// client makes one connection per request, so every request is a
// connection herd accepts and hands over.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// traffic sends s.rate requests a second from a pool of clients.
func (d *driver) traffic(ctx context.Context) {
	jobs := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				d.count(get(d.url) == nil)
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	sent, start := 0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for due := int(time.Since(start).Seconds() * float64(d.s.rate)); sent < due; sent++ {
			select {
			case jobs <- struct{}{}:
			default: // the clients are behind: skip
			}
		}
	}
}

func (d *driver) count(ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	if !ok {
		d.failed++
	}
}

func get(url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// crashLoop crashes a worker (GET /exit) evenly over the run: half the
// restarts.
func (d *driver) crashLoop(ctx context.Context) {
	n := d.s.restarts / 2
	if n == 0 {
		return
	}
	every(ctx, d.s.duration/time.Duration(n+1), func() {
		if get(d.url+"exit") == nil {
			d.mu.Lock()
			d.crashes++
			d.mu.Unlock()
		}
	})
}

// reloadLoop rolls reloads evenly over the run: the other half of the
// restarts, one per worker and reload.
func (d *driver) reloadLoop(ctx context.Context) {
	n := d.s.restarts / 2 / d.s.workers
	if n == 0 {
		return
	}
	every(ctx, d.s.duration/time.Duration(n+1), func() {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := control.Call(rctx, d.ctl, control.Request{Cmd: control.CmdReload}); err == nil {
			d.mu.Lock()
			d.reloads++
			d.mu.Unlock()
		}
	})
}

// scrapeLoop reads the metrics every second and the status every five,
// as a Prometheus server and an operator would.
func (d *driver) scrapeLoop(ctx context.Context) {
	i := 0
	every(ctx, time.Second, func() {
		get(d.metrics)
		if i++; i%5 == 0 {
			control.Call(ctx, d.ctl, control.Request{Cmd: control.CmdStatus})
		}
	})
}

// every calls f every period until ctx is done.
func every(ctx context.Context, period time.Duration, f func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

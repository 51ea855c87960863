package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/hostile"
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
// restarts, and a tenth more for the crashes of workers that a reload
// was replacing anyway (they are not restarted).
func (d *driver) crashLoop(ctx context.Context) {
	paced(ctx, d.s.restarts*6/10, d.s.duration, func() bool {
		if get(d.url+"exit") != nil {
			return false
		}
		d.mu.Lock()
		d.crashes++
		d.mu.Unlock()
		return true
	})
}

// reloadLoop rolls reloads evenly over the run: the other half of the
// restarts, one per worker and reload. A reload that a crash spoiled
// (its new worker crashed) does not count.
func (d *driver) reloadLoop(ctx context.Context) {
	paced(ctx, d.s.restarts/2/d.s.workers, d.s.duration, func() bool {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := control.Call(rctx, d.ctl, control.Request{Cmd: control.CmdReload}); err != nil {
			return false
		}
		d.mu.Lock()
		d.reloads++
		d.mu.Unlock()
		return true
	})
}

// hostileLoop starts s.hostile hostile workers evenly over the run: it
// leaves a token naming the next attack and crashes a worker, whose
// replacement takes the token. An attack counts once a worker took it.
func (d *driver) hostileLoop(ctx context.Context) {
	modes := hostile.Modes()
	paced(ctx, d.s.hostile, d.s.duration, func() bool {
		mode := modes[len(d.attacks())%len(modes)]
		token := filepath.Join(d.dir, hostileToken)
		if os.WriteFile(token+".tmp", []byte(mode), 0o600) != nil || os.Rename(token+".tmp", token) != nil {
			return false
		}
		get(d.url + "exit")
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(token); os.IsNotExist(err) {
				d.mu.Lock()
				d.hostiles = append(d.hostiles, mode)
				d.mu.Unlock()
				return true
			}
		}
		return false
	})
}

// attacks returns the attacks made so far.
func (d *driver) attacks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.hostiles)
}

// paced calls f until it succeeded n times, the k-th success due at
// k/(n+1) of the run: a slow or failed call is caught up on.
func paced(ctx context.Context, n int, run time.Duration, f func() bool) {
	start := time.Now()
	for done := 0; done < n; {
		wait := time.Until(start.Add(run * time.Duration(done+1) / time.Duration(n+1)))
		if wait < 0 {
			wait = 100 * time.Millisecond // behind: retry soon, not at once
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if f() {
			done++
		}
	}
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

// Command restart measures how fast herd replaces a killed worker: from
// the SIGKILL to the exit event, to the replacement's ready event, and to
// the first response served by the replacement.
//
//	restart -hello ./hello -n 2 -kills 20
//
// It prints one JSON line per kill and a summary line with medians.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/proc"
)

type sample struct {
	ExitMs, ReadyMs, ServeMs float64
}

func main() {
	hello := flag.String("hello", "./hello", "the hello worker binary (bench/hello)")
	n := flag.Int("n", 2, "workers")
	kills := flag.Int("kills", 20, "how many workers to kill, one at a time")
	addr := flag.String("addr", "127.0.0.1:18080", "address")
	flag.Parse()
	events := make(chan cluster.Event, 64)
	// Backoff off: this measures the mechanism. By default the first
	// restart of a slot is immediate anyway; repeated kills back off.
	p := cluster.New(cluster.Config{Workers: *n, MaxRestarts: -1, NoSignals: true,
		BackoffMin: time.Microsecond, BackoffMax: time.Microsecond,
		OnEvent: func(e cluster.Event) { events <- e },
		Command: func(int) *proc.Cmd { return proc.Command(*hello, "-addr", *addr) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitReady(events, *n)
	var all []sample
	for i := 0; i < *kills; i++ {
		s := killOne(p, events, "http://"+*addr+"/")
		all = append(all, s)
		b, _ := json.Marshal(s)
		fmt.Println(string(b))
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	fmt.Printf("median exit %.1f ms, ready %.1f ms, first response %.1f ms over %d kills\n",
		median(all, func(s sample) float64 { return s.ExitMs }),
		median(all, func(s sample) float64 { return s.ReadyMs }),
		median(all, func(s sample) float64 { return s.ServeMs }), len(all))
}

func waitReady(events chan cluster.Event, n int) {
	for n > 0 {
		if e := <-events; e.Type == cluster.EventReady {
			n--
		}
	}
}

// killOne kills the first worker and times its replacement.
func killOne(p *cluster.Primary, events chan cluster.Event, url string) sample {
	ws, err := p.Workers()
	if err != nil || len(ws) == 0 {
		log.Fatalf("no workers: %v", err)
	}
	t0 := time.Now()
	syscall.Kill(ws[0].Pid, syscall.SIGKILL)
	var s sample
	newPid := 0
	for newPid == 0 {
		e := <-events
		switch e.Type {
		case cluster.EventExit:
			s.ExitMs = ms(e.Time.Sub(t0))
		case cluster.EventReady:
			s.ReadyMs, newPid = ms(e.Time.Sub(t0)), e.Pid
		}
	}
	for !servedBy(url, newPid) {
	}
	s.ServeMs = ms(time.Since(t0))
	return s
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}

func servedBy(url string, pid int) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.HasSuffix(strings.TrimSpace(string(b)), fmt.Sprint(pid))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(all []sample, f func(sample) float64) float64 {
	v := make([]float64, len(all))
	for i, s := range all {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// goConfig is one way to run the Go hello worker (bench/hello).
type goConfig struct {
	name string
	args []string
}

// goConfigs are the Go section's servers: one process using every core
// (the limit), then herd's library with 2 workers under each policy.
var goConfigs = []goConfig{
	{"single", []string{"-single"}},
	{"herd rr", []string{"-n", "2", "-policy", "rr"}},
	{"herd leastconn", []string{"-n", "2", "-policy", "leastconn"}},
	{"herd shared", []string{"-n", "2", "-policy", "shared"}},
	{"herd reuseport", []string{"-n", "2", "-policy", "reuseport"}},
}

// goRun is one wrk run against one Go server.
type goRun struct {
	wrkResult
	primaryUsPerReq float64 // the primary's CPU (utime+stime) per request, µs
}

// goResults holds every run by mode ("keep-alive", "close") and config,
// one per round.
type goResults map[string]map[string][]goRun

// benchGo runs the Go section, rounds interleaved, and returns its
// markdown tables.
func benchGo(e *env, o opts) (string, error) {
	res := goResults{}
	for r := 0; r < o.rounds; r++ {
		for _, mode := range []string{"keep-alive", "close"} {
			for _, c := range goConfigs {
				m, err := measureGo(e.hello, c, mode == "close", o)
				if err != nil {
					return "", fmt.Errorf("%s %s: %w", c.name, mode, err)
				}
				log.Printf("round %d %-15s %-10s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  primary %.1f µs/req",
					r+1, c.name, mode, m.rps, m.p50, m.p99, m.primaryUsPerReq)
				res.add(mode, c.name, m)
			}
		}
	}
	return res.table(), nil
}

// measureGo starts a Go server, warms it up, runs wrk and stops it.
func measureGo(hello string, c goConfig, close bool, o opts) (goRun, error) {
	port, err := freePort()
	if err != nil {
		return goRun{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := exec.Command(hello, append(c.args, "-addr", addr)...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return goRun{}, err
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	url := "http://" + addr + "/"
	if err := waitAnswer(url, 20*time.Second); err != nil {
		return goRun{}, err
	}
	wrk(url, close, o.warm, o.conns, "")
	cpu0 := cpuTicks(srv.Process.Pid)
	w, _, err := wrk(url, close, o.goDuration, o.conns, "")
	if err != nil {
		return goRun{}, err
	}
	m := goRun{wrkResult: w}
	if reqs := w.rps * o.goDuration.Seconds(); reqs > 0 {
		m.primaryUsPerReq = float64(cpuTicks(srv.Process.Pid)-cpu0) * 1e4 / reqs
	}
	return m, nil
}

// waitAnswer waits up to d for url to answer.
func waitAnswer(url string, d time.Duration) error {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := getPid(url); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s never answered", url)
}

func (r goResults) add(mode, name string, m goRun) {
	if r[mode] == nil {
		r[mode] = map[string][]goRun{}
	}
	r[mode][name] = append(r[mode][name], m)
}

// table renders one markdown table per mode, each config against the
// single process of the same round.
func (r goResults) table() string {
	var b strings.Builder
	for _, mode := range []string{"keep-alive", "close"} {
		fmt.Fprintf(&b, "\n### %s\n\n| config | req/s median [min–max] | vs single, per round | p50 ms | p99 ms | errors | primary µs/req |\n|---|---|---|---|---|---|---|\n", mode)
		base := r[mode]["single"]
		for _, c := range goConfigs {
			ms := r[mode][c.name]
			rps := pickGo(ms, func(m goRun) float64 { return m.rps })
			var ratios []string
			for i := range min(len(ms), len(base)) {
				ratios = append(ratios, fmt.Sprintf("%.2f", ms[i].rps/base[i].rps))
			}
			errs := 0
			for _, m := range ms {
				errs += m.errors
			}
			fmt.Fprintf(&b, "| %s | %.0f [%.0f–%.0f] | %s | %.2f | %.2f | %d | %.1f |\n", c.name,
				median(rps), slices.Min(rps), slices.Max(rps), strings.Join(ratios, ", "),
				median(pickGo(ms, func(m goRun) float64 { return m.p50 })),
				median(pickGo(ms, func(m goRun) float64 { return m.p99 })),
				errs, median(pickGo(ms, func(m goRun) float64 { return m.primaryUsPerReq })))
		}
	}
	return b.String()
}

func pickGo(ms []goRun, f func(goRun) float64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = f(m)
	}
	return out
}

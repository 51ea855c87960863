// Command cluster benchmarks herd's policies against one Go process: the
// hello worker (bench/hello) under herd with 2 workers, each policy, with
// keep-alive and with a new connection per request, beside the same
// program as a single process using every core. Rounds are interleaved
// (A/B/...), and the table reports medians, min–max and the ratio to the
// single process of the same round.
//
//	go run ./bench/cluster -hello ./hello -rounds 3 -duration 5s > table.md
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"
)

type config struct {
	name string
	args []string
}

var configs = []config{
	{"single", []string{"-single"}},
	{"herd rr", []string{"-n", "2", "-policy", "rr"}},
	{"herd leastconn", []string{"-n", "2", "-policy", "leastconn"}},
	{"herd shared", []string{"-n", "2", "-policy", "shared"}},
	{"herd reuseport", []string{"-n", "2", "-policy", "reuseport"}},
}

func main() {
	hello := flag.String("hello", "./hello", "the bench/hello binary")
	rounds := flag.Int("rounds", 3, "interleaved rounds")
	duration := flag.Duration("duration", 5*time.Second, "wrk duration per run")
	conns := flag.Int("c", 50, "wrk connections")
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("wrk is not installed (apt-get install -y wrk)")
	}
	res := results{}
	for r := 0; r < *rounds; r++ {
		for _, mode := range []string{"keep-alive", "close"} {
			for _, c := range configs {
				m, err := measure(*hello, c, mode == "close", *duration, *conns)
				if err != nil {
					log.Fatalf("%s %s: %v", c.name, mode, err)
				}
				fmt.Fprintf(os.Stderr, "round %d %-15s %-10s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  primary %.1f µs/req\n",
					r+1, c.name, mode, m.rps, m.p50, m.p99, m.primaryUsPerReq)
				res.add(mode, c.name, r, m)
			}
		}
	}
	fmt.Print(res.table(configs, *rounds))
	fmt.Printf("\nwrk -t1 -c%d -d%s, %d interleaved rounds; CPU: %s, %d cores\n", *conns, *duration, *rounds, cpuModel(), numCPU())
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(l[strings.Index(l, ":")+1:])
		}
	}
	return "unknown"
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

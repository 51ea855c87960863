package state_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStore measures Get, Set, Incr and publish→deliver from 2
// worker processes, each running Conc goroutines, on the embedded store
// and on Redis through herd's backend and through plain go-redis commands
// (redis-raw, the baseline). Besides ns/op it reports ops/s (all workers
// together) and the p50 and p99 latency of one operation. Run it with
//
//	go test -run '^$' -bench . -benchtime 200000x ./state
//
// (docs/benchmarks.md, "Shared state").
func BenchmarkStore(b *testing.B) {
	for _, be := range []struct {
		backend
		raw bool
	}{{backends[0], false}, {backends[1], false}, {backend{"redis-raw", backends[1].start}, true}} {
		b.Run(be.name, func(b *testing.B) {
			e := be.start(b)
			a := startAgents(b, withBuffer(e.url), 2)
			for _, op := range []string{"set", "get", "incr"} {
				for _, conc := range []int{1, 16} {
					b.Run(fmt.Sprintf("%s/c%d", op, conc), func(b *testing.B) {
						rs := a.each(a.ids(), command{Op: "bench", Key: op, N: max(b.N/2, 1), Conc: conc, Raw: be.raw})
						report(b, rs)
					})
				}
			}
			if !be.raw {
				for _, conc := range []int{1, 16} {
					b.Run(fmt.Sprintf("pubsub/c%d", conc), func(b *testing.B) { benchPubSub(b, a, conc) })
				}
			}
		})
	}
}

// withBuffer gives the benchmark's subscriptions room for a burst, so
// that they measure delivery rather than the drop-oldest policy.
func withBuffer(url string) string {
	if strings.Contains(url, "?") {
		return url + "&buffer=65536"
	}
	return url + "?buffer=65536"
}

// benchPubSub has both workers subscribe, then both publish b.N/2
// messages; each message reaches both, so deliveries are 2 × b.N.
func benchPubSub(b *testing.B, a *agents, conc int) {
	ids := a.ids()
	n := max(b.N/2, 1)
	ch := "bench:pub:" + strconv.Itoa(b.N) + ":" + strconv.Itoa(conc)
	a.each(ids, command{Op: "benchSub", Chans: []string{ch}, N: 2 * n})
	a.each(ids, command{Op: "bench", Key: "pub", Chans: []string{ch}, N: n, Conc: conc})
	rs := a.each(ids, command{Op: "benchCollect", Chans: []string{ch}})
	for _, r := range rs {
		if r.Bench.Ops != int64(2*n) || r.Bench.Notices != 0 {
			b.Logf("worker %d received %d of %d messages, %d loss notices", r.Worker, r.Bench.Ops, 2*n, r.Bench.Notices)
		}
	}
	report(b, rs)
}

// report adds the workers' figures to the benchmark's.
func report(b *testing.B, rs []result) {
	var ops int64
	var elapsed time.Duration
	hist := make([]uint32, histSlots)
	for _, r := range rs {
		ops += r.Bench.Ops
		elapsed = max(elapsed, r.Bench.Elapsed)
		for i, v := range r.Bench.Hist {
			hist[i] += v
		}
	}
	b.ReportMetric(float64(ops)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(percentile(hist, 0.50))/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(hist, 0.99))/1e3, "p99-µs")
}

// percentile is the latency below which q of the operations fall.
func percentile(hist []uint32, q float64) time.Duration {
	var total uint64
	for _, v := range hist {
		total += uint64(v)
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, v := range hist {
		seen += uint64(v)
		if seen > want {
			return histValue(i)
		}
	}
	return histValue(len(hist) - 1)
}

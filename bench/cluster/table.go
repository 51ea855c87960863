package main

import (
	"fmt"
	"slices"
	"strings"
)

// results holds every measurement by mode, config and round.
type results map[string]map[string][]measurement

func (r results) add(mode, name string, round int, m measurement) {
	if r[mode] == nil {
		r[mode] = map[string][]measurement{}
	}
	r[mode][name] = append(r[mode][name], m)
}

// table renders one markdown table per mode.
func (r results) table(cs []config, rounds int) string {
	var b strings.Builder
	for _, mode := range []string{"keep-alive", "close"} {
		fmt.Fprintf(&b, "\n### %s\n\n| config | req/s median [min–max] | vs single, per round | p50 ms | p99 ms | errors | primary µs/req |\n|---|---|---|---|---|---|---|\n", mode)
		base := r[mode]["single"]
		for _, c := range cs {
			ms := r[mode][c.name]
			rps := pick(ms, func(m measurement) float64 { return m.rps })
			var ratios []string
			for i := range ms {
				ratios = append(ratios, fmt.Sprintf("%.2f", ms[i].rps/base[i].rps))
			}
			fmt.Fprintf(&b, "| %s | %.0f [%.0f–%.0f] | %s | %.2f | %.2f | %d | %.1f |\n", c.name,
				median(rps), slices.Min(rps), slices.Max(rps), strings.Join(ratios, ", "),
				median(pick(ms, func(m measurement) float64 { return m.p50 })),
				median(pick(ms, func(m measurement) float64 { return m.p99 })),
				sumErrors(ms), median(pick(ms, func(m measurement) float64 { return m.primaryUsPerReq })))
		}
	}
	return b.String()
}

func pick(ms []measurement, f func(measurement) float64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = f(m)
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func sumErrors(ms []measurement) int {
	n := 0
	for _, m := range ms {
		n += m.errors
	}
	return n
}

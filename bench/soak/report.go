package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// growth is the end RSS over the warm RSS, minus one.
func (r *result) growth() float64 {
	if r.warm.rss == 0 {
		return 0
	}
	return float64(r.end.rss)/float64(r.warm.rss) - 1
}

// passed reports whether the primary stayed flat and the targets were
// reached.
func (r *result) passed(s settings) bool {
	return r.growth() <= s.tolerance && r.restarts >= s.restarts && r.messages >= s.messages && len(r.hostiles) >= s.hostile
}

// print writes the summary as Markdown.
func (r *result) print(w io.Writer, s settings) {
	verdict := "PASS"
	if !r.passed(s) {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "Soak of %s (%d workers, %d CPUs, %s), warm-up %s; memory as medians over the %s after the warm-up and the last %s: **%s**\n\n",
		s.duration, s.workers, runtime.NumCPU(), time.Now().Format("2006-01-02"), s.warmup, r.window, r.window, verdict)
	fmt.Fprintln(w, "| measure | after warm-up | at the end |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	fmt.Fprintf(w, "| primary RSS | %s | %s (%+.1f%%, limit %+.0f%%) |\n", mib(r.warm.rss), mib(r.end.rss), 100*r.growth(), 100*s.tolerance)
	fmt.Fprintf(w, "| of which anonymous (heap, stacks) | %s | %s |\n", mib(r.warm.anon), mib(r.end.anon))
	fmt.Fprintf(w, "| of which file-backed (herd's code) | %s | %s |\n", mib(r.warm.file), mib(r.end.file))
	fmt.Fprintf(w, "| primary live heap (last GC) | %s | %s |\n", mib(int64(r.live[0])), mib(int64(r.live[1])))
	fmt.Fprintf(w, "| primary goroutines | %.0f | %.0f |\n", r.goroutines[0], r.goroutines[1])
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| load | done |")
	fmt.Fprintln(w, "| --- | --- |")
	fmt.Fprintf(w, "| worker restarts (target %d) | %d (%d crashes caused, %d reloads of %d workers) |\n", s.restarts, r.restarts, r.crashes, r.reloads, s.workers)
	fmt.Fprintf(w, "| IPC messages to the primary (target %d) | %d |\n", s.messages, r.messages)
	fmt.Fprintf(w, "| hostile workers (target %d) | %d: %s |\n", s.hostile, len(r.hostiles), countModes(r.hostiles))
	fmt.Fprintf(w, "| connections handed to workers | %d |\n", r.connections)
	fmt.Fprintf(w, "| HTTP requests, one connection each (failed: cut by the crashes) | %d (%d) |\n", r.requests, r.failed)
	fmt.Fprintf(w, "| primary RSS peak | %s |\n", mib(r.peak))
	fmt.Fprintln(w)
	r.printSeries(w)
}

// printSeries writes the primary's RSS at about ten moments.
func (r *result) printSeries(w io.Writer) {
	fmt.Fprintln(w, "| time | RSS | anonymous | file-backed |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	step := max(len(r.samples)/10, 1)
	for i := 0; i < len(r.samples); i += step {
		s := r.samples[i]
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", s.at.Round(time.Second), mib(s.rss), mib(s.anon), mib(s.file))
	}
	if n := len(r.samples); n > 0 && (n-1)%step != 0 {
		s := r.samples[n-1]
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", s.at.Round(time.Second), mib(s.rss), mib(s.anon), mib(s.file))
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// countModes says how many attacks of each mode were made: "huge ×2, ...".
func countModes(modes []string) string {
	n := map[string]int{}
	for _, m := range modes {
		n[m]++
	}
	var out []string
	for _, m := range slices.Sorted(maps.Keys(n)) {
		out = append(out, fmt.Sprintf("%s ×%d", m, n[m]))
	}
	return strings.Join(out, ", ")
}

package main

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// growth is the end RSS over the warm RSS, minus one.
func (r *result) growth() float64 {
	if r.warm == 0 {
		return 0
	}
	return float64(r.end)/float64(r.warm) - 1
}

// passed reports whether the primary stayed flat and the targets were
// reached.
func (r *result) passed(s settings) bool {
	return r.growth() <= s.tolerance && r.restarts >= s.restarts*9/10 && r.messages >= s.messages
}

// print writes the summary as Markdown.
func (r *result) print(w io.Writer, s settings) {
	verdict := "PASS"
	if !r.passed(s) {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "Soak of %s (%d workers, %d CPUs, %s), warm-up %s: **%s**\n\n", s.duration, s.workers,
		runtime.NumCPU(), time.Now().Format("2006-01-02"), s.warmup, verdict)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "| --- | --- |")
	fmt.Fprintf(w, "| primary RSS after warm-up (median of 5 s) | %s |\n", mib(r.warm))
	fmt.Fprintf(w, "| primary RSS at the end (median of 5 s) | %s (%+.1f%%, limit %+.0f%%) |\n", mib(r.end), 100*r.growth(), 100*s.tolerance)
	fmt.Fprintf(w, "| primary RSS peak | %s |\n", mib(r.peak))
	fmt.Fprintf(w, "| primary Go heap in use, warm → end | %s → %s |\n", mib(int64(r.heap[0])), mib(int64(r.heap[1])))
	fmt.Fprintf(w, "| primary goroutines, warm → end | %.0f → %.0f |\n", r.goroutines[0], r.goroutines[1])
	fmt.Fprintf(w, "| worker restarts (target %d) | %d (%d crashes caused, %d reloads) |\n", s.restarts, r.restarts, r.crashes, r.reloads)
	fmt.Fprintf(w, "| IPC messages to the primary (target %d) | %d |\n", s.messages, r.messages)
	fmt.Fprintf(w, "| connections handed to workers | %d |\n", r.connections)
	fmt.Fprintf(w, "| HTTP requests (failed: crashes cut them) | %d (%d) |\n", r.requests, r.failed)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Primary RSS over time:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| time | RSS |")
	fmt.Fprintln(w, "| --- | --- |")
	step := max(len(r.samples)/10, 1)
	for i := 0; i < len(r.samples); i += step {
		fmt.Fprintf(w, "| %s | %s |\n", r.samples[i].at.Round(time.Second), mib(r.samples[i].rss))
	}
	if n := len(r.samples); n > 0 && (n-1)%step != 0 {
		fmt.Fprintf(w, "| %s | %s |\n", r.samples[n-1].at.Round(time.Second), mib(r.samples[n-1].rss))
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

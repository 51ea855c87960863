package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// report gathers every section's results.
type report struct {
	o         opts
	machine   machine
	start     time.Time
	total     time.Duration
	took      []string
	failures  []string
	node      httpResults
	goTable   string
	ipcTable  string
	goRestart string
	restart   map[string]*restartStats
	reload    map[string]map[string][]reloadRun
	upgrade   map[string]map[string][]reloadRun
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	s = slices.DeleteFunc(s, func(x float64) bool { return math.IsNaN(x) })
	slices.Sort(s)
	switch n := len(s); {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return s[n/2]
	default:
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// mmm formats "median [min–max]" with f.
func mmm(v []float64, f func(float64) string) string {
	if len(v) == 0 {
		return "–"
	}
	if len(v) == 1 {
		return f(v[0])
	}
	return fmt.Sprintf("%s [%s–%s]", f(median(v)), f(slices.Min(v)), f(slices.Max(v)))
}

// thousands formats n with commas: 34,777.
func thousands(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	s := fmt.Sprintf("%.0f", x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func f1(x float64) string { return fmtF(x, 1) }
func f2(x float64) string { return fmtF(x, 2) }
func fmtF(x float64, d int) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return "∞"
	}
	return fmt.Sprintf("%.*f", d, x)
}

func pickRuns(srs []serverRun, mode string, f func(httpRun) float64) []float64 {
	out := make([]float64, len(srs))
	for i, sr := range srs {
		out[i] = f(sr.runs[mode])
	}
	return out
}

func pickServer(srs []serverRun, f func(serverRun) float64) []float64 {
	out := make([]float64, len(srs))
	for i, sr := range srs {
		out[i] = f(sr)
	}
	return out
}

// ratios is kind/baseline of each round for f.
func (r *report) ratios(name, mode string, f func(httpRun) float64) []float64 {
	a, b := r.node[name], r.node[baseline]
	var out []float64
	for i := range min(len(a), len(b)) {
		out = append(out, ratio(f(a[i].runs[mode]), f(b[i].runs[mode])))
	}
	return out
}

func joinF(v []float64, f func(float64) string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = f(x)
	}
	return strings.Join(s, ", ")
}

func rps(h httpRun) float64 { return h.rps }

func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks\n\n")
	w("Produced by `bench/run`%s on %s UTC in %s (%s). ", map[bool]string{true: " (QUICK=1: one round, short runs; not for quoting)", false: ""}[r.o.quick],
		r.start.UTC().Format("2006-01-02 15:04"), r.total.Round(time.Second), strings.Join(r.took, ", "))
	w("Every comparison ran in one run, all traffic on 127.0.0.1, in %d interleaved rounds (each round starts at another configuration); "+
		"figures are \"median [min–max]\" over the rounds, and ratios are taken against the baseline **of the same round**.\n\n", r.o.rounds)
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s, %d cores |\n| memory | %s |\n| kernel | %s |\n", m.cpu, m.cores, m.mem, m.kernel)
	w("| software | %s, Node %s, PM2 %s, %s |\n", m.goVer, m.nodeVer, m.pm2Ver, m.wrkVer)
	w("| load average (1, 5, 15 min) | before %s, after %s |\n\n", m.loadBefore, m.loadAfter)
	w("The client (wrk) shares the 2 cores with the servers, so multi-process setups cannot show real scaling, " +
		"and keep-alive figures move by ±20%% between runs here: compare ratios within one run. " +
		"Benchmarks report; nothing here is asserted.\n\n")
	if len(r.failures) > 0 {
		w("**Sections that failed in this run:**\n\n")
		for _, f := range r.failures {
			w("- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
		w("\n")
	}
	if r.node != nil {
		w("![herd and PM2 against Node's cluster primary](benchmarks.png)\n\n")
		r.nodeSection(w)
	}
	if r.goTable != "" {
		w("## 2. A Go hello worker: herd against one Go process\n\n")
		r.machineNote(w)
		w("The hello worker (`bench/hello`) under herd's library with 2 workers, each policy, against the same program as one process using every core (the limit). `wrk -t1 -c%d -d%s`.\n", r.o.conns, r.o.goDuration)
		w("%s\n\n", strings.TrimSpace(r.goTable))
	}
	if r.ipcTable != "" {
		w("## 3. IPC: herd Go↔Go against Node↔Node\n\n")
		r.machineNote(w)
		w("`bench/ipc/run.sh` (ROUNDS=%d), its output as it printed it:\n\n%s\n\n", r.o.ipcRounds, strings.TrimSpace(r.ipcTable))
	}
	if r.restart != nil || r.goRestart != "" {
		r.restartSection(w)
	}
	if r.reload != nil {
		r.reloadSection(w)
	}
	if r.upgrade != nil {
		r.upgradeSection(w)
	}
	if r.node != nil {
		r.memorySection(w)
		r.baselineSection(w)
	}
	w("## How to run it\n\n")
	w("```sh\nbench/run            # everything, about 12 minutes on 2 cores; writes docs/benchmarks.md and docs/benchmarks.png\n" +
		"QUICK=1 bench/run    # about 2.5 minutes, one round; writes bench/results/quick/\n```\n\n" +
		"It installs wrk (Debian) and PM2 (npm, into bench/node) when they are missing, builds herd and the bench programs, " +
		"and keeps every server's output and wrk's under `bench/results/<time>/`. CI does not run it.\n")
	return b.String()
}

func (r *report) nodeSection(w func(string, ...any)) {
	w("## 1. The same Node app, 2 workers\n\n")
	r.machineNote(w)
	w("`app.js` is `http.createServer((q,s)=>s.end('hello '+process.pid)).listen(PORT)`, unmodified, under: "+
		"`herd run -n 2 --policy P -- node app.js`; Node's own cluster (`bench/node/primary.js`: `cluster.fork()` ×2, "+
		"`NODE_CLUSTER_SCHED_POLICY=rr` or `none`); and `pm2 start app.js -i 2` (cluster mode, private `PM2_HOME`, `pm2 kill` afterwards). "+
		"Each server is started fresh in each round, answers from both workers, idles %s, then for each mode: a %s warm-up, "+
		"the measured `wrk -t1 -c%d -d%s --latency` (`-H \"Connection: close\"` for a new connection per request), "+
		"and a %s wrk run with a Lua script that tallies the answers by pid (spread = max/min across the 2 workers). "+
		"Primary CPU is utime+stime of herd / Node's primary / PM2's God daemon from `/proc/PID/stat` over the measured run, per request "+
		"(per connection with `close`); server CPU adds the workers. Errors are wrk's socket errors plus non-2xx answers.\n\n",
		r.o.idle, r.o.warm, r.o.conns, r.o.duration, r.o.tally)
	for _, mode := range modes {
		title := map[string]string{"keep-alive": "Keep-alive", "close": "A new connection per request (`Connection: close`)"}[mode]
		w("### %s\n\n", title)
		w("| config | req/s | vs Node rr, per round | p50 ms | p99 ms | errors | primary µs/%s | server µs/req | spread max/min |\n", map[string]string{"keep-alive": "req", "close": "conn"}[mode])
		w("|---|---|---|---|---|---|---|---|---|\n")
		for _, k := range nodeKinds {
			srs := r.node[k.name]
			if len(srs) == 0 {
				continue
			}
			errs := 0
			for _, sr := range srs {
				errs += sr.runs[mode].errors
			}
			w("| %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", k.name,
				mmm(pickRuns(srs, mode, rps), thousands),
				joinF(r.ratios(k.name, mode, rps), f2),
				mmm(pickRuns(srs, mode, func(h httpRun) float64 { return h.p50 }), f2),
				mmm(pickRuns(srs, mode, func(h httpRun) float64 { return h.p99 }), f2),
				errs,
				mmm(pickRuns(srs, mode, func(h httpRun) float64 { return h.primaryUsPerReq }), f1),
				mmm(pickRuns(srs, mode, func(h httpRun) float64 { return h.serverUsPerReq }), f1),
				mmm(pickRuns(srs, mode, func(h httpRun) float64 { return h.spread }), f2))
		}
		w("\n")
	}
	r.targets(w)
}

// targets checks the numbers of issue 5 against this run's medians.
func (r *report) targets(w func(string, ...any)) {
	if r.node[baseline] == nil {
		return
	}
	med := func(name, mode string, f func(httpRun) float64) float64 {
		return median(pickRuns(r.node[name], mode, f))
	}
	rat := func(name, mode string, f func(httpRun) float64) float64 { return median(r.ratios(name, mode, f)) }
	pcpu := func(h httpRun) float64 { return h.primaryUsPerReq }
	spr := func(h httpRun) float64 { return h.spread }
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	w("### Issue 5's targets, this run\n\n| target | measured (median of the per-round ratios) | |\n|---|---|---|\n")
	if r.node["herd rr"] != nil {
		x := rat("herd rr", "close", rps)
		w("| rr, new connection per request: ≥ 1.0× Node rr | %.2f× | %s |\n", x, mark(x >= 1.0))
		c := rat("herd rr", "close", pcpu)
		w("| rr: herd's primary CPU per connection ≤ 0.4× Node's primary | %.2f× (%.1f µs against %.1f µs) | %s |\n", c,
			med("herd rr", "close", pcpu), med(baseline, "close", pcpu), mark(c <= 0.4))
	}
	if r.node["herd reuseport"] != nil {
		x := rat("herd reuseport", "close", rps)
		w("| reuseport, new connection per request: ≥ 1.5× Node rr | %.2f× | %s |\n", x, mark(x >= 1.5))
		if r.node["node cluster none"] != nil {
			a, b := r.node["herd reuseport"], r.node["node cluster none"]
			var v []float64
			for i := range min(len(a), len(b)) {
				v = append(v, ratio(a[i].runs["close"].rps, b[i].runs["close"].rps))
			}
			y := median(v)
			w("| reuseport: within 10%% of SCHED_NONE (close) | %.2f× | %s |\n", y, mark(y >= 0.9))
		}
		s := med("herd reuseport", "close", spr)
		w("| reuseport: spread max/min ≤ 1.2 (close) | %.2f (Node none: %.2f) | %s |\n", s, med("node cluster none", "close", spr), mark(s <= 1.2))
	}
	for _, k := range []string{"herd rr", "herd leastconn", "herd shared", "herd reuseport"} {
		if r.node[k] != nil {
			x := rat(k, "keep-alive", rps)
			w("| %s, keep-alive: ≥ 1.0× Node rr | %.2f× | %s |\n", k, x, mark(x >= 1.0))
		}
	}
	if r.node["herd rr"] != nil {
		h := median(pickServer(r.node["herd rr"], func(s serverRun) float64 { return float64(s.idleRSS) }))
		n := median(pickServer(r.node[baseline], func(s serverRun) float64 { return float64(s.idleRSS) }))
		hw := median(pickServer(r.node["herd rr"], func(s serverRun) float64 { return float64(s.idleRSS + s.watchdogRSS) }))
		w("| herd's primary RSS ≤ ¼ of Node's primary | %.2f× (%.1f MiB against %.1f MiB; with herd's watchdog process: %.1f MiB, %.2f×) | %s |\n",
			h/n, mib(int64(h)), mib(int64(n)), mib(int64(hw)), hw/n, mark(h/n <= 0.25))
		if r.node["pm2 -i 2"] != nil {
			p := median(pickServer(r.node["pm2 -i 2"], func(s serverRun) float64 { return float64(s.idleRSS) }))
			w("| herd's primary RSS ≤ ¼ of PM2's daemon | %.2f× (%.1f MiB against %.1f MiB) | %s |\n", h/p, mib(int64(h)), mib(int64(p)), mark(h/p <= 0.25))
		}
	}
	w("\n")
}

func (r *report) restartSection(w func(string, ...any)) {
	w("## 4. Restart after SIGKILL, and rolling reloads\n\n")
	r.machineNote(w)
	if r.goRestart != "" {
		w("**herd's library, Go hello workers** (`bench/restart -n 2`: SIGKILL a worker, time to its exit event, to the replacement's ready event and to the first answer from it): %s.\n\n", r.goRestart)
	}
	if r.restart == nil {
		return
	}
	w("**The Node app, 2 workers.** As in `baselines.md` §5a: one worker at a time is killed with SIGKILL while 4 probes run "+
		"(a new connection each, 2 ms apart, 1 s timeout); the time is from the kill to the first answer carrying a new worker's pid. "+
		"Kills are 1.5 s apart; herd runs with `--restart-window 1s` so that a worker that lived 1 s restarts without backoff "+
		"(PM2 and Node's primary restart at once by default). %d kills per round. "+
		"\"Left open\" counts sockets of the app's port still open in CLOSE_WAIT in the primary after the probes stopped: requests the primary accepted and nobody answered.\n\n", r.o.kills)
	w("| config | kill → first answer from the new worker, ms | kills | probes ok | probes hung (no answer in 1 s) | probes failed | left open in the primary, per round |\n|---|---|---|---|---|---|---|\n")
	for _, name := range restartKinds {
		st := r.restart[name]
		if st == nil {
			continue
		}
		nr := ""
		if st.noReplace > 0 {
			nr = fmt.Sprintf(" (%d without a new worker answering in 10 s)", st.noReplace)
		}
		lo := make([]string, len(st.leftOpen))
		for i, n := range st.leftOpen {
			lo[i] = fmt.Sprint(n)
		}
		w("| %s | %s | %d%s | %d | %d | %d | %s |\n", name, mmm(st.firstMs, f1), st.kills, nr, st.ok, st.hung, st.failed, strings.Join(lo, ", "))
	}
	w("\n")
}

func (r *report) reloadSection(w func(string, ...any)) {
	w("**Rolling reload under load.** `herd reload` against `pm2 reload app` while a Go load loop runs: 8 clients POST (Go's client never retries a POST) "+
		"with keep-alive or a new connection per request, 2 s timeout, from 0.5 s before the reload until 0.5 s after it returned. "+
		"Failed = connection errors and non-2xx answers; hung = no answer within 2 s. Node's cluster module has no reload. %d rounds.\n\n", r.o.rounds)
	w("| config | mode | reload took, s | requests ok | failed | hung | every worker replaced |\n|---|---|---|---|---|---|---|\n")
	changeRows(w, reloadKinds, r.reload)
}

// upgradeSection is herd upgrade's table, beside the reloads'.
func (r *report) upgradeSection(w func(string, ...any)) {
	w("**herd upgrade under load.** The same load as the reloads' while `herd upgrade` replaces herd itself (a new herd process "+
		"inherits the sockets, starts its workers, and the old one drains): the time from `herd upgrade` to its return, and the requests "+
		"served and failed from 0.5 s before to 0.5 s after it. %d rounds.\n\n", r.o.rounds)
	w("| config | mode | upgrade took, s | requests ok | failed | hung | every worker replaced |\n|---|---|---|---|---|---|---|\n")
	changeRows(w, upgradeKinds, r.upgrade)
}

// changeRows writes a row per kind and mode of reloads or upgrades.
func changeRows(w func(string, ...any), kinds []string, res map[string]map[string][]reloadRun) {
	for _, name := range kinds {
		for _, mode := range modes {
			runs := res[name][mode]
			if len(runs) == 0 {
				continue
			}
			var secs []float64
			var ok, failed, hung int64
			replaced := 0
			var errs []string
			for _, rr := range runs {
				secs = append(secs, rr.seconds)
				ok, failed, hung = ok+rr.ok, failed+rr.failed, hung+rr.hung
				if rr.replaced {
					replaced++
				}
				if rr.err != "" {
					errs = append(errs, rr.err)
				}
			}
			note := ""
			if len(errs) > 0 {
				note = " (" + strings.Join(errs, "; ") + ")"
			}
			w("| %s | %s | %s | %s | %d | %d | %d of %d%s |\n", name, mode, mmm(secs, f2), thousands(float64(ok)), failed, hung, replaced, len(runs), note)
		}
	}
	w("\n")
}

func (r *report) memorySection(w func(string, ...any)) {
	w("## 5. Memory of the primary\n\n")
	r.machineNote(w)
	w("RSS (VmRSS) of herd / Node's primary / PM2's God daemon: idle, %s after start; loaded, right after the measured close run; peak (VmHWM) over the server's life. "+
		"The PM2 CLI exits after `pm2 start` and is not counted. herd's watchdog (`/bin/sh -c SCRIPT herd-watchdog`, which kills the workers' children if herd is killed) is a second, small process, shown apart.\n\n", r.o.idle)
	w("| config | primary idle RSS MiB | vs Node's primary, per round | loaded RSS MiB | peak MiB | herd's watchdog MiB | each worker idle MiB |\n|---|---|---|---|---|---|---|\n")
	for _, k := range nodeKinds {
		srs := r.node[k.name]
		if len(srs) == 0 {
			continue
		}
		var rat []float64
		for i := range min(len(srs), len(r.node[baseline])) {
			rat = append(rat, ratio(float64(srs[i].idleRSS), float64(r.node[baseline][i].idleRSS)))
		}
		wd := "–"
		if srs[0].watchdogRSS > 0 {
			wd = mmm(pickServer(srs, func(s serverRun) float64 { return mib(s.watchdogRSS) }), f1)
		}
		w("| %s | %s | %s | %s | %s | %s | %s |\n", k.name,
			mmm(pickServer(srs, func(s serverRun) float64 { return mib(s.idleRSS) }), f1), joinF(rat, f2),
			mmm(pickRuns(srs, "close", func(h httpRun) float64 { return mib(h.rssLoaded) }), f1),
			mmm(pickRuns(srs, "close", func(h httpRun) float64 { return mib(h.rssPeak) }), f1), wd,
			mmm(pickServer(srs, func(s serverRun) float64 { return mib(s.workerRSS) }), f1))
	}
	w("\n")
}

// baselineSection sets this run's Node and PM2 figures beside those of
// ../shared/research/baselines.md, which were measured the same way on a
// 2-vCPU AMD EPYC guest: absolute numbers move with the machine, the
// ratios within a run should hold.
func (r *report) baselineSection(w func(string, ...any)) {
	if r.node[baseline] == nil {
		return
	}
	rat := func(name, mode string) string {
		if r.node[name] == nil {
			return "–"
		}
		return f2(median(r.ratios(name, mode, rps))) + "×"
	}
	med := func(name, mode string, f func(httpRun) float64, fm func(float64) string) string {
		if r.node[name] == nil {
			return "–"
		}
		return fm(median(pickRuns(r.node[name], mode, f)))
	}
	idle := func(name string) string {
		if r.node[name] == nil {
			return "–"
		}
		return f1(median(pickServer(r.node[name], func(s serverRun) float64 { return mib(s.idleRSS) })))
	}
	pcpu := func(h httpRun) float64 { return h.primaryUsPerReq }
	spr := func(h httpRun) float64 { return h.spread }
	w("## Against baselines.md\n\n")
	w("`../shared/research/baselines.md` measured Node's cluster and PM2 the same way (wrk -t1 -c50 -d5s, fresh servers, interleaved runs) on a 2-vCPU AMD EPYC guest; " +
		"this run's machine is the one described above. Absolute figures move with the machine; the ratios within one run are what should reproduce.\n\n")
	w("| figure | baselines.md | this run |\n|---|---|---|\n")
	w("| Node rr, close, req/s | 4,284 | %s |\n", med(baseline, "close", rps, thousands))
	w("| Node none / Node rr, close | 1.77× | %s |\n", rat("node cluster none", "close"))
	w("| PM2 / Node rr, close | 0.74× | %s |\n", rat("pm2 -i 2", "close"))
	w("| Node rr, keep-alive, req/s | 34,777 | %s |\n", med(baseline, "keep-alive", rps, thousands))
	w("| Node none / Node rr, keep-alive | 1.00× | %s |\n", rat("node cluster none", "keep-alive"))
	w("| PM2 / Node rr, keep-alive | 0.85× | %s |\n", rat("pm2 -i 2", "keep-alive"))
	w("| Node's primary CPU per connection (rr, close) | ~98 µs (0.42 core at 4,284 conn/s; feasibility-rr.md: 74–103 µs) | %s µs |\n", med(baseline, "close", pcpu, f1))
	w("| PM2's daemon CPU per connection (close) | ~135 µs (0.43 core at 3,174 conn/s) | %s µs |\n", med("pm2 -i 2", "close", pcpu, f1))
	w("| spread, close: Node rr / none / PM2 | 1.04 / 1.05 / 1.01 | %s / %s / %s |\n", med(baseline, "close", spr, f2), med("node cluster none", "close", spr, f2), med("pm2 -i 2", "close", spr, f2))
	w("| spread, keep-alive (requests): Node rr / none / PM2 | 1.15 / 1.67 / 1.14 | %s / %s / %s |\n", med(baseline, "keep-alive", spr, f2), med("node cluster none", "keep-alive", spr, f2), med("pm2 -i 2", "keep-alive", spr, f2))
	w("| idle RSS: Node's primary / PM2's daemon, MiB | 42.8 / 58.4 | %s / %s |\n", idle(baseline), idle("pm2 -i 2"))
	if st := r.restart; st != nil {
		one := func(name string) string {
			if st[name] == nil {
				return "–"
			}
			return f1(median(st[name].firstMs)) + " ms"
		}
		w("| kill → first answer of the new worker: Node rr / none | 149 / 166 ms | %s / %s |\n", one(baseline), one("node cluster none"))
		if s := st[baseline]; s != nil {
			total := 0
			for _, n := range s.leftOpen {
				total += n
			}
			w("| Node rr: a request left unanswered in the primary per kill | about 1 (59 of 60 restarts) | %d hung probes and %d sockets left in CLOSE_WAIT for %d kills |\n", s.hung, total, s.kills)
		}
	}
	w("\n")
}

// machineNote names the machine under a table, so that a table copied
// alone still says where its figures come from.
func (r *report) machineNote(w func(string, ...any)) {
	m := r.machine
	w("*Machine: %s, %d cores; 1-minute load average %s before the run.*\n\n", m.cpu, m.cores, strings.Fields(m.loadBefore + " ?")[0])
}

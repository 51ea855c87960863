// Command suite is herd's benchmark harness, run by bench/run: the same
// Node app under herd (each policy), Node's cluster (round-robin and
// SCHED_NONE) and PM2; the Go hello worker (bench/hello) under herd's
// library, each policy, against one Go process; IPC, Go against Node (bench/ipc/run.sh);
// restart after SIGKILL and failed requests during rolling reloads and
// herd upgrades; the
// primaries' memory. Rounds are interleaved and every figure is compared
// with the baseline of the same round. Everything runs on 127.0.0.1.
//
// It writes OUT/benchmarks.md and OUT/benchmarks.png, and keeps the raw
// output of every run under -results.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type opts struct {
	quick                       bool
	rounds, conns, kills        int
	duration, warm, tally, idle time.Duration
	goDuration                  time.Duration
	ipcRounds                   int
	out, results                string
	only                        map[string]bool
}

func main() {
	var o opts
	var e env
	var only string
	flag.BoolVar(&o.quick, "quick", false, "a quick run (about 2.5 minutes): 1 round, short runs")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "wrk duration of a measured run")
	flag.IntVar(&o.conns, "c", 50, "wrk connections")
	flag.StringVar(&o.out, "out", "docs", "where benchmarks.md and benchmarks.png go")
	flag.StringVar(&o.results, "results", "bench/results", "where raw output goes (a timestamped folder)")
	flag.StringVar(&e.herd, "herd", "bin/herd", "the herd binary")
	flag.StringVar(&e.hello, "hello", "", "the bench/hello binary")
	flag.StringVar(&e.restart, "restart", "", "the bench/restart binary")
	flag.StringVar(&e.nodeDir, "node", "bench/node", "bench/node, with pm2 installed")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (node,go,ipc,restart,reload,upgrade); empty: all")
	kinds := flag.String("kinds", "", "comma-separated Node kinds to run (\"herd rr,herd sticky\"), the baseline always; empty: all")
	flag.Parse()
	keepKinds(*kinds)
	o.warm, o.tally, o.idle, o.kills, o.goDuration, o.ipcRounds = time.Second, time.Second, time.Second, 5, 4*time.Second, o.rounds
	if o.quick {
		o.rounds, o.duration, o.idle, o.kills, o.goDuration, o.ipcRounds = 1, 2*time.Second, 500*time.Millisecond, 2, 2*time.Second, 1
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			o.only[s] = true
		}
	}
	var err error
	if e.root, err = os.Getwd(); err != nil {
		log.Fatal(err)
	}
	for _, p := range []*string{&e.herd, &e.hello, &e.restart, &e.nodeDir} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				log.Fatal(err)
			}
		}
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	e.logs = filepath.Join(o.results, stamp)
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		log.Fatal(err)
	}
	if e.tmp, err = os.MkdirTemp("", "herd-bench-"); err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(e.tmp)
	lf, err := os.Create(filepath.Join(e.logs, "suite.log"))
	if err != nil {
		log.Fatal(err)
	}
	log.SetOutput(io.MultiWriter(os.Stderr, lf))
	log.SetFlags(log.Ltime)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Printf("%v: stopping the servers", s)
		stopAll()
		os.RemoveAll(e.tmp)
		os.Exit(130)
	}()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("wrk is not installed (bench/run installs it)")
	}

	rep := &report{o: o, machine: machineInfo(e), start: time.Now()}
	rep.machine.loadBefore = loadAvg()
	log.Printf("machine: %s, %d cores, load %s; raw output in %s", rep.machine.cpu, rep.machine.cores, rep.machine.loadBefore, e.logs)
	run := func(name string, f func() error) {
		if o.only != nil && !o.only[name] {
			return
		}
		t0 := time.Now()
		log.Printf("== %s", name)
		if err := f(); err != nil {
			log.Printf("%s: FAILED: %v", name, err)
			rep.failures = append(rep.failures, fmt.Sprintf("%s: %v", name, err))
		}
		log.Printf("== %s took %s", name, time.Since(t0).Round(time.Second))
		rep.took = append(rep.took, fmt.Sprintf("%s %s", name, time.Since(t0).Round(time.Second)))
	}
	run("node", func() (err error) { rep.node, err = benchNode(&e, o); return })
	run("go", func() (err error) { rep.goTable, err = benchGo(&e, o); return })
	run("ipc", func() (err error) { rep.ipcTable, err = runIPC(&e, o); return })
	run("restart", func() (err error) {
		rep.goRestart, err = runGoRestart(&e, o)
		if err != nil {
			return err
		}
		rep.restart, err = benchRestart(&e, o)
		return
	})
	run("reload", func() (err error) { rep.reload, err = benchReload(&e, o); return })
	run("upgrade", func() (err error) { rep.upgrade, err = benchUpgrade(&e, o); return })
	rep.machine.loadAfter = loadAvg()
	rep.total = time.Since(rep.start)

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		log.Fatal(err)
	}
	md := rep.markdown()
	old, _ := os.ReadFile(filepath.Join(o.out, "benchmarks.md"))
	md += foreignSections(string(old), md)
	if err := os.WriteFile(filepath.Join(o.out, "benchmarks.md"), []byte(md), 0o644); err != nil {
		log.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.logs, "benchmarks.md"), []byte(md), 0o644)
	if png := rep.chart(); png != nil {
		if err := os.WriteFile(filepath.Join(o.out, "benchmarks.png"), png, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("wrote %s and benchmarks.png in %s", filepath.Join(o.out, "benchmarks.md"), rep.total.Round(time.Second))
	if len(rep.failures) > 0 {
		os.Exit(1)
	}
}

type machine struct {
	cpu, mem, kernel, goVer, nodeVer, pm2Ver, wrkVer string
	cores                                            int
	loadBefore, loadAfter                            string
}

func machineInfo(e env) machine {
	m := machine{cpu: cpuModel(), mem: memTotal()}
	b, _ := os.ReadFile("/proc/cpuinfo")
	m.cores = strings.Count(string(b), "processor\t:")
	k, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	m.kernel = strings.TrimSpace(string(k))
	m.goVer = firstLine(exec.Command("go", "env", "GOVERSION").Output())
	m.nodeVer = firstLine(exec.Command("node", "--version").Output())
	if pj, err := os.ReadFile(filepath.Join(e.nodeDir, "node_modules", "pm2", "package.json")); err == nil {
		if s := regexp.MustCompile(`"version":\s*"([^"]+)"`).FindSubmatch(pj); s != nil {
			m.pm2Ver = string(s[1])
		}
	}
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	m.wrkVer, _, _ = strings.Cut(firstLine(out, nil), " [")
	m.wrkVer = strings.Replace(m.wrkVer, "debian/", "", 1)
	return m
}

func firstLine(b []byte, _ error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// runLogged runs a command with a time limit, its stderr to a log file,
// and returns its stdout.
func runLogged(e *env, name string, limit time.Duration, extraEnv []string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	lf, err := os.Create(filepath.Join(e.logs, name+".log"))
	if err != nil {
		return "", err
	}
	defer lf.Close()
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = e.root
	c.Env = append(os.Environ(), extraEnv...)
	var out bytes.Buffer
	c.Stdout = io.MultiWriter(&out, lf)
	c.Stderr = lf
	c.WaitDelay = 10 * time.Second
	err = c.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w (see %s)", strings.Join(argv, " "), err, lf.Name())
	}
	return out.String(), err
}

// runIPC runs bench/ipc/run.sh, Go↔Go against Node↔Node.
func runIPC(e *env, o opts) (string, error) {
	extra := []string{"ROUNDS=" + strconv.Itoa(o.ipcRounds), "OUT=" + filepath.Join(e.logs, "ipc")}
	if o.quick {
		extra = append(extra, "BENCHTIME=300ms")
	}
	return runLogged(e, "ipc", 10*time.Minute, extra, "bash", filepath.Join(e.root, "bench", "ipc", "run.sh"))
}

// runGoRestart runs bench/restart: herd's library with Go hello workers.
func runGoRestart(e *env, o opts) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	kills := 20
	if o.quick {
		kills = 5
	}
	out, err := runLogged(e, "go-restart", 3*time.Minute, nil, e.restart, "-hello", e.hello, "-n", "2",
		"-kills", strconv.Itoa(kills), "-addr", "127.0.0.1:"+strconv.Itoa(port))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1], err
}

// Command soak checks that herd's primary keeps a flat footprint: it runs
// `herd run` over Go workers (this same program) for a long while, under
// HTTP traffic, crashes, rolling reloads, a stream of IPC messages and
// hostile workers (every attack of internal/hostile, in turn),
// with --metrics, --log-file and the control socket in use, and compares
// the primary's resident memory at the end with its memory after a
// warm-up.
//
//	go run ./bench/soak                 # 10 minutes, 1,000 restarts, 1,000,000 messages
//	go run ./bench/soak -short          # 40 seconds, scaled down
//
// It prints a Markdown summary and exits 1 if the primary grew by more
// than -tolerance or a target was not reached.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

// settings are the soak's targets.
type settings struct {
	duration  time.Duration
	warmup    time.Duration
	workers   int
	restarts  int     // worker replacements: half crashes, half reloads
	messages  int     // user messages from workers to the primary
	rate      int     // HTTP requests per second, each on a new connection
	hostile   int     // hostile workers to start over the run (internal/hostile's attacks, in turn)
	tolerance float64 // allowed growth of the primary's RSS after warm-up
	herd      string  // the herd binary; built when empty
}

func main() {
	s := settings{}
	short := flag.Bool("short", false, "a short run: 40 s, 60 restarts, 40,000 messages")
	flag.DurationVar(&s.duration, "duration", 10*time.Minute, "how long to run")
	flag.IntVar(&s.workers, "workers", 4, "workers")
	flag.IntVar(&s.restarts, "restarts", 1000, "worker restarts to cause (half crashes, half reloads)")
	flag.IntVar(&s.messages, "messages", 1_000_000, "IPC messages the workers send the primary")
	flag.IntVar(&s.rate, "rate", 300, "HTTP requests per second, each on a new connection")
	flag.IntVar(&s.hostile, "hostile", 40, "hostile workers to start over the run, each making one of internal/hostile's attacks")
	flag.Float64Var(&s.tolerance, "tolerance", 0.10, "allowed RSS growth of the primary after warm-up")
	flag.StringVar(&s.herd, "herd", "", "the herd binary (default: go build ./cmd/herd)")
	flag.Parse()
	if os.Getenv(envWorker) != "" {
		runWorker()
		return
	}
	if *short {
		s.duration, s.restarts, s.messages = 40*time.Second, 60, 40_000
		s.hostile = min(s.hostile, 8)
	}
	s.warmup = max(s.duration/10, 10*time.Second)
	log.SetFlags(log.Ltime)
	if err := run(s); err != nil {
		log.Fatal(err)
	}
}

// run builds herd if needed, soaks it and reports.
func run(s settings) error {
	dir, err := os.MkdirTemp("", "herd-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if s.herd == "" {
		if s.herd, err = buildHerd(dir); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.duration+5*time.Minute)
	defer cancel()
	r, err := soak(ctx, s, dir)
	if err != nil {
		return err
	}
	r.print(os.Stdout, s)
	if !r.passed(s) {
		os.Exit(1)
	}
	return nil
}

// buildHerd builds the herd binary into dir, static as the README
// builds it.
func buildHerd(dir string) (string, error) {
	out := filepath.Join(dir, "herd")
	cmd := command("go", "build", "-o", out, "github.com/herdhq/herd/cmd/herd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("soak: go build: %w\n%s", err, b)
	}
	return out, nil
}

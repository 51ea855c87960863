package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/hostile"
)

// The worker's environment.
const (
	envWorker = "HERD_SOAK_WORKER" // set: run as a worker
	envRate   = "HERD_SOAK_RATE"   // user messages a second to send the primary
	envDir    = "HERD_SOAK_DIR"    // where a hostile token may wait
)

// runWorker serves HTTP through herd's round-robin routing: / answers,
// /exit answers and then crashes the worker. It sends the primary
// envRate user messages a second, and logs a line every 100 requests.
func runWorker() {
	if mode := claimHostile(os.Getenv(envDir)); mode != "" {
		attack(mode)
		return
	}
	l, err := cluster.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak worker:", err)
		os.Exit(3)
	}
	rate, _ := strconv.Atoi(os.Getenv(envRate))
	go sendMessages(rate)
	served := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served++; served%100 == 0 {
			fmt.Printf("served %d requests\n", served)
		}
		fmt.Fprintf(w, "%d\n", cluster.WorkerID())
		if r.URL.Path == "/exit" {
			go func() {
				time.Sleep(10 * time.Millisecond)
				fmt.Fprintln(os.Stderr, "crashing on purpose")
				os.Exit(1)
			}()
		}
	})
	cluster.Serve(&http.Server{Handler: h}, l)
}

// sendMessages sends rate small messages a second, in batches every 10 ms.
func sendMessages(rate int) {
	if rate <= 0 {
		return
	}
	ch := cluster.Channel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	sent, start := 0, time.Now()
	for range t.C {
		due := int(time.Since(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			if ch.Send(map[string]int{"n": sent}) != nil {
				return
			}
		}
	}
}

// hostileToken is the file the driver leaves (its content: an attack of
// internal/hostile) for the next worker that starts.
const hostileToken = "hostile.todo"

// claimHostile renames the token, if there is one, and returns its mode.
func claimHostile(dir string) string {
	mine := filepath.Join(dir, "hostile-"+strconv.Itoa(os.Getpid()))
	if dir == "" || os.Rename(filepath.Join(dir, hostileToken), mine) != nil {
		return ""
	}
	b, _ := os.ReadFile(mine)
	return string(b)
}

// attack makes the attack on the channel to herd, then waits (bounded) to
// be cut off.
func attack(mode string) {
	fd, err := strconv.Atoi(os.Getenv("NODE_CHANNEL_FD"))
	if err == nil {
		err = hostile.Run(mode, fd, time.Now().Add(30*time.Second))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak worker:", err)
		os.Exit(5)
	}
	time.Sleep(time.Minute)
}

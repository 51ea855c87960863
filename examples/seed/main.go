// Command seed is Node's classic cluster example written with herd: the
// primary forks one worker per CPU and logs their deaths; each worker
// serves "hello world" on a shared port and tells the primary about every
// request, which keeps the count (Node's "notifyRequest" example).
//
//	go run ./examples/seed -addr 127.0.0.1:8000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to serve on")
	workers := flag.Int("n", 0, "workers (0: one per CPU)")
	flag.Parse()
	if cluster.IsPrimary() {
		primary(*workers)
		return
	}
	worker(*addr)
}

// primary runs the workers and counts the requests they report.
func primary(workers int) {
	fmt.Printf("Primary %d is running\n", os.Getpid())
	var requests atomic.Int64
	cfg := cluster.Config{
		Workers: workers,
		OnEvent: func(e cluster.Event) {
			if e.Type == cluster.EventExit && !e.Expected {
				fmt.Printf("worker %d died (%s)\n", e.Pid, e)
			}
		},
		OnMessage: func(w cluster.WorkerInfo, m *ipc.Message) {
			var note struct{ Cmd string }
			if m.Decode(&note) == nil && note.Cmd == "notifyRequest" {
				fmt.Printf("numReqs = %d\n", requests.Add(1))
			}
		},
	}
	if err := cluster.Run(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}

// worker serves hello world and notifies the primary of each request.
func worker(addr string) {
	l, err := cluster.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Worker %d started\n", os.Getpid())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello world")
		cluster.Channel().Send(map[string]string{"cmd": "notifyRequest"})
	})
	if err := cluster.Serve(&http.Server{Handler: h}, l); err != nil {
		log.Fatal(err)
	}
}

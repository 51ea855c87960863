package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/proc"
)

// A worker asks the primary for its listening socket with Listen and serves
// it with Serve, which drains gracefully when the primary stops the worker.
// Outside a cluster, as here, Listen is net.Listen and the program runs
// alone, unchanged.
func ExampleListen() {
	l, err := cluster.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})}
	done := make(chan error, 1)
	go func() { done <- cluster.Serve(srv, l) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	srv.Close()
	<-done
	// Output: hello
}

// A primary that runs another program as its workers: Command returns each
// worker's command, and Readiness says when a worker counts as ready (a
// program that speaks no protocol is ready once started). Run returns nil
// when its context ends and every worker has stopped.
func ExampleRun() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := 0
	cfg := cluster.Config{
		Workers:   2,
		Readiness: cluster.ReadyOnStart,
		NoSignals: true,
		Command: func(id int) *proc.Cmd {
			return proc.Command("sleep", "60")
		},
		OnEvent: func(e cluster.Event) { // on the primary's goroutine: quick
			if e.Type == cluster.EventReady {
				if ready++; ready == 2 {
					fmt.Println("2 workers ready")
					cancel()
				}
			}
		},
	}
	if err := cluster.Run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped")
	// Output:
	// 2 workers ready
	// stopped
}

// Command state shows herd's shared state: a visit counter and a chat
// that every worker shares. Workers share no memory; the counter and the
// chat's fan-out live in the store, which the primary holds
// (embedded://, the default) or Redis holds (redis://): the program is the
// same, only the URL changes.
//
//	go run ./examples/state -addr 127.0.0.1:8000
//	go run ./examples/state -addr 127.0.0.1:8000 -state redis://127.0.0.1:6379/0
//
//	curl 127.0.0.1:8000/                      # visit 1 (worker 2), visit 2 (worker 1), ...
//	curl -d 'hello' 127.0.0.1:8000/chat       # published to every worker
//	curl 127.0.0.1:8000/chat                  # what this worker heard
//
// It also runs under herd: herd run -n 4 -l 127.0.0.1:8000 --state URL --
// ./state (the flag then comes from HERD_STATE_URL).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/state"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to serve on")
	workers := flag.Int("n", 2, "workers")
	url := flag.String("state", "", "the store: embedded:// or redis://HOST:PORT/DB (default: $HERD_STATE_URL, else embedded://)")
	flag.Parse()
	if cluster.IsPrimary() {
		if err := cluster.Run(context.Background(), cluster.Config{Workers: *workers}); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := worker(*addr, *url); err != nil {
		log.Fatal(err)
	}
}

// worker serves the counter and the chat until the primary stops it.
func worker(addr, url string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := state.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	room, err := join(ctx, st)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { visit(w, r, st) })
	mux.HandleFunc("POST /chat", func(w http.ResponseWriter, r *http.Request) { say(w, r, st) })
	mux.HandleFunc("GET /chat", room.serve)
	l, err := cluster.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return cluster.Serve(&http.Server{Handler: mux}, l)
}

// visit counts the visit in the shared counter.
func visit(w http.ResponseWriter, r *http.Request, st state.Store) {
	n, err := st.Incr(r.Context(), "visits", 1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "visit %d (worker %d)\n", n, cluster.WorkerID())
}

// say publishes the request's body to every worker.
func say(w http.ResponseWriter, r *http.Request, st state.Store) {
	msg, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = st.Publish(r.Context(), "chat", msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "sent")
}

// room is what this worker heard on the chat: the last 100 messages.
type room struct {
	mu    sync.Mutex
	heard []string
}

// join subscribes to the chat for the worker's life.
func join(ctx context.Context, st state.Store) (*room, error) {
	msgs, err := st.Subscribe(ctx, "chat")
	if err != nil {
		return nil, err
	}
	rm := &room{}
	go func() {
		for m := range msgs {
			line := string(m.Payload)
			if m.Err != nil {
				line = "(" + m.Err.Error() + ")"
			}
			rm.mu.Lock()
			rm.heard = append(rm.heard, line)
			if len(rm.heard) > 100 {
				rm.heard = rm.heard[1:]
			}
			rm.mu.Unlock()
		}
	}()
	return rm, nil
}

func (rm *room) serve(w http.ResponseWriter, _ *http.Request) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	fmt.Fprintf(w, "worker %d heard:\n%s\n", cluster.WorkerID(), strings.Join(rm.heard, "\n"))
}

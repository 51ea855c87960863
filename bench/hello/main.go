// Command hello is the Go hello-world HTTP server of herd's benchmarks: a
// herd cluster of hello workers, or (-single) one process using every core.
//
//	hello -addr 127.0.0.1:8080 -n 2 -policy rr
//	hello -addr 127.0.0.1:8080 -single
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/herdhq/herd/cluster"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	n := flag.Int("n", 0, "workers (0: one per CPU)")
	policy := flag.String("policy", "rr", "rr, shared, reuseport or leastconn")
	single := flag.Bool("single", false, "one process, no cluster")
	flag.Parse()
	if *single {
		l, err := net.Listen("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		log.Fatal(http.Serve(l, http.HandlerFunc(hello)))
	}
	if cluster.IsPrimary() {
		pol, err := cluster.ParsePolicy(*policy)
		if err != nil {
			log.Fatal(err)
		}
		check(cluster.Run(context.Background(), cluster.Config{Workers: *n, Policy: pol}))
		return
	}
	l, err := cluster.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	check(cluster.Serve(&http.Server{Handler: http.HandlerFunc(hello)}, l))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "hello from %d\n", os.Getpid())
}

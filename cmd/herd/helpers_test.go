package main_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/herdhq/herd/cluster"
)

// helperGoWorker is a worker of herd's Go library: it listens on
// HERD_TEST_ADDR through the primary (so herd routes round-robin) and
// answers "go ID PID".
func helperGoWorker() {
	fmt.Println("go worker up")
	l, err := cluster.Listen("tcp", os.Getenv("HERD_TEST_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "go %d %d\n", cluster.WorkerID(), os.Getpid())
	})
	if err := cluster.Serve(&http.Server{Handler: h}, l); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(4)
	}
}

// helperActivation is a plain Go program under socket activation: it
// takes its socket with go-systemd's activation package, which checks
// LISTEN_PID, and answers "activation PID NAMES".
func helperActivation() {
	ls, err := activation.ListenersWithNames()
	if err != nil || len(ls) != 1 {
		fmt.Fprintln(os.Stderr, "activation: want one named socket, got", ls, err)
		os.Exit(3)
	}
	var names []string
	for name := range ls {
		names = append(names, name)
	}
	l := ls[names[0]][0]
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "activation %d %s\n", os.Getpid(), strings.Join(names, ","))
	})
	http.Serve(l, h)
}

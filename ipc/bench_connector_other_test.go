//go:build !linux

package ipc_test

import (
	"fmt"
	"os"
)

// benchConnector is the benchmarks' load generator, an epoll loop
// (bench_connector_linux_test.go): Linux only.
func benchConnector() {
	fmt.Fprintln(os.Stderr, "connector: Linux only (epoll)")
	os.Exit(2)
}

// Command herd runs any program as a supervised cluster of worker
// processes. See the README, or run herd --help.
package main

import (
	"os"

	"github.com/herdhq/herd/cli"
)

// version and commit are set at build time (GoReleaser does):
// go build -ldflags "-X main.version=v1.2.3 -X main.commit=0123abc".
var version, commit string

func main() {
	os.Exit(cli.Main(cli.Build{Version: version, Commit: commit}, os.Args[1:]))
}

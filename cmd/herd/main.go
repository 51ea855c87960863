// Command herd runs any program as a supervised cluster of worker
// processes. See the README, or run herd --help.
package main

import (
	"os"

	"github.com/herdhq/herd/cli"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	os.Exit(cli.Main(version, os.Args[1:]))
}

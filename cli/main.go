package cli

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Hidden first arguments: herd re-executes itself for these.
const (
	argExec       = "__exec"        // the exec shim in front of every worker
	argDemoWorker = "__demo-worker" // a hello worker of herd demo
)

// Main runs the herd command with args (without the program name) and
// returns the exit status. version is printed by herd version.
func Main(version Build, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case argExec:
			return execShim(args[1:])
		case argWatchdog:
			return runWatchdog()
		case argDemoWorker:
			return demoWorker(args[1:])
		}
	}
	return runRoot(context.Background(), version, args, os.Stdout, os.Stderr)
}

func runRoot(ctx context.Context, version Build, args []string, stdout, stderr io.Writer) int {
	root := newRoot(version, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := codeOf(err)
	if err != nil {
		msg := err.Error()
		if _, ok := err.(*exitError); !ok {
			msg = "herd: " + msg
		}
		fmt.Fprintln(stderr, msg)
		if code == ExitUsage {
			fmt.Fprintln(stderr, "Run 'herd --help' or 'herd COMMAND --help' for usage.")
		}
	}
	return code
}

package cli

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// execShim is what every worker starts as: herd, re-executed, sets
// LISTEN_PID to its own pid (socket activation wants the pid of the
// process it speaks to, unknown before the fork), then replaces itself
// with the real program, which keeps the pid. args are the program's path
// and its argv.
func execShim(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "herd: "+argExec+" PATH ARGV0 [ARG...]")
		return ExitUsage
	}
	if os.Getenv("LISTEN_FDS") != "" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	err := syscall.Exec(args[0], args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "herd: exec %s: %v\n", args[0], err)
	return 127
}

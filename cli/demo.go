package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/spf13/cobra"
)

// demoAddr is where herd demo listens unless told otherwise.
const demoAddr = "127.0.0.1:8080"

func newDemoCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "demo [-n N] [--listen ADDR]",
		Short: "Run a cluster of built-in hello workers, to see what herd does",
		Long: `Run a cluster of built-in hello workers on 127.0.0.1:8080 (herd re-executes
itself as each worker), and print what to try: curl it, look at herd status,
kill -9 a worker, herd reload. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&o.Workers, "workers", "n", 4, "number of workers")
	fs.StringArrayVarP(&o.Listen, "listen", "l", []string{demoAddr}, "the `ADDR` to serve on (HOST:PORT)")
	o.addControlFlags(fs)
	return cmd
}

func runDemo(cmd *cobra.Command, o *runOptions) error {
	if len(o.Listen) != 1 {
		return usagef("demo: give one --listen address")
	}
	l, err := parseListen(o.Listen[0], "herd")
	if err != nil {
		return err
	}
	if l.addr.Network != "tcp" && l.addr.Network != "tcp4" && l.addr.Network != "tcp6" {
		return usagef("demo: --listen must be a TCP address such as %s", demoAddr)
	}
	exe, err := os.Executable()
	if err != nil {
		return withCode(ExitError, fmt.Errorf("demo: cannot find herd's own executable: %w", err))
	}
	o.Command = []string{exe, argDemoWorker, l.addr.Network, l.addr.Address}
	o.Policy, o.LogFormat = "rr", "text"
	o.MaxRestarts, o.RestartWindow = cluster.DefaultMaxRestarts, cluster.DefaultRestartWindow
	o.KillTimeout, o.ReadyTimeout = 5*time.Second, cluster.DefaultReadyTimeout
	o.HeartbeatTimeout = defaultHeartbeatTimeout
	specs, err := resolvePrograms(nil, o)
	if err != nil {
		return err
	}
	err = runHerd(cmd.Context(), *o, specs, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(h *herd) {
		printDemoHelp(h.stdout, h, demoSelf(exe))
	})
	if codeOf(err) == ExitBind {
		err = withCode(ExitBind, fmt.Errorf("%w\n(another port: herd demo --listen 127.0.0.1:8081)", errors.Unwrap(err)))
	}
	return err
}

// demoSelf is how the newcomer runs this herd: "herd" when that is it on
// the PATH, else its full path.
func demoSelf(exe string) string {
	if p, err := exec.LookPath("herd"); err == nil {
		if a, err := filepath.EvalSymlinks(p); err == nil {
			if b, err := filepath.EvalSymlinks(exe); err == nil && a == b {
				return "herd"
			}
		}
	}
	return exe
}

// printDemoHelp tells the newcomer what to try.
func printDemoHelp(w io.Writer, h *herd, self string) {
	addr := demoAddr
	if b := h.boundAddrs(); len(b) > 0 {
		addr = b[0]
	}
	ctl := ""
	if h.opts.Control != "" {
		ctl = " --control " + h.opts.Control
	} else if h.opts.Name != "herd" {
		ctl = " --name " + h.opts.Name
	}
	fmt.Fprintf(w, "\nherd demo: %d hello workers serve http://%s/ (herd's pid is %d)\n\nTry, in another terminal:\n",
		h.opts.Workers, addr, os.Getpid())
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, l := range [][2]string{
		{"curl http://" + addr + "/", "a worker answers with its id and pid; again: the next one"},
		{self + " status" + ctl, "the workers: id, pid, state, restarts, uptime, memory"},
		{"kill -9 PID", "kill a worker: herd replaces it at once"},
		{self + " reload" + ctl, "replace every worker, one at a time, without losing a request"},
		{self + " scale 8" + ctl, "more workers"},
		{self + " stop" + ctl, "stop gracefully (so does Ctrl-C here)"},
	} {
		fmt.Fprintf(tw, "  %s\t# %s\n", l[0], l[1])
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// demoWorker is one hello worker: herd's Go library, serving "hello from
// worker ID (pid PID)". args are the network and address to listen on.
func demoWorker(args []string) int {
	network, address := "tcp", demoAddr
	if len(args) == 2 {
		network, address = args[0], args[1]
	}
	l, err := cluster.Listen(network, address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "herd demo worker:", err)
		return ExitBind
	}
	srv := &http.Server{Handler: http.HandlerFunc(hello), ReadHeaderTimeout: 10 * time.Second}
	if err := cluster.Serve(srv, l); err != nil {
		fmt.Fprintln(os.Stderr, "herd demo worker:", err)
		return ExitError
	}
	return ExitOK
}

func hello(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintf(w, "hello from worker %d (pid %d)\n", cluster.WorkerID(), os.Getpid())
}

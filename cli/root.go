package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newRoot builds the herd command and its subcommands.
func newRoot(version Build, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "herd",
		Short: "Run any program as a supervised cluster of worker processes",
		Long: `herd runs any program as a cluster of worker processes that share listening
sockets, in the foreground: it restarts crashed workers, reloads them one at a
time without dropping a request, scales them, and stops them gracefully.
A running herd is steered through its control socket (herd status, reload,
scale, stop) or with signals (HUP reload, TTIN/TTOU scale, TERM/INT stop).

New here? Run 'herd demo'.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(ExitUsage, err) })
	root.AddCommand(newRunCmd(), newDemoCmd(), newStatusCmd(), newReloadCmd(), newScaleCmd(), newStopCmd(),
		newVersionCmd(version), newLogsCmd(), newTopCmd(), newLsCmd(), newSystemdCmd())
	return root
}

package cli

import (
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARG...]",
		Short: "Run COMMAND as a supervised cluster of workers, in the foreground",
		Long: `Run COMMAND as a cluster of worker processes in the foreground, until stopped.

Each --listen address is bound once, by herd, before any worker starts, and
reaches every worker as systemd's socket activation does: fds 3, 4, ... with
LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (the worker's own pid). Programs that
speak herd's protocol (the Go library) get connections routed round-robin or
to the least busy worker; any other program accepts on the shared socket and
the kernel balances. Workers also get HERD_WORKER_ID and NOTIFY_SOCKET.

A worker is ready when it says so (herd's protocol, or READY=1 on
NOTIFY_SOCKET as under systemd), or else once it has run for a second;
--ready-timeout bounds the wait. A crashed worker is replaced with a growing
delay; more than --max-restarts crashes within --restart-window make herd
give up. Each worker's output is prefixed with [ID:PID], or is JSON lines
with --log-format json; herd logs its own events on stderr.

Steer a running herd with herd status, reload, scale and stop, or with
signals: HUP reloads (one worker at a time, no dropped request), TTIN and
TTOU add and remove a worker, TERM and INT stop gracefully (a second one
kills the workers: exit status 5).

The config file (-c) is YAML with the flags' long names as keys, plus
command: a list, used when no COMMAND is given; flags win over it. Or,
instead of command, programs: NAME: {command: [...], SETTINGS...} for each
program of the herd, each supervised on its own, the top-level settings
being their defaults (env adds to the top's env). --procfile runs each entry
of a Procfile as a program instead, with --formation's workers (1 each by
default) and PORT = 5000 + 100 x its index, as foreman sets it.

Without --name, a herd is named after the config's name, else its program
(node app.js: app), else its config file's or Procfile's directory.`,
		Example: `  herd run -n 4 -l 127.0.0.1:8080 -- python3 app.py
  herd run -l tcp://0.0.0.0:80 -l unix:/run/app.sock --name api -- ./server
  herd run --env-file .env --cwd ./app --log-time -- node server.js
  herd run --watch --watch-ignore '*.log' -- node app.js   # reload on save, while developing
  herd run -c herd.yaml
  herd run --procfile Procfile --formation web=4,worker=2`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Command = args
			if o.Config != "" {
				if err := applyConfig(cmd.Flags(), o, o.Config); err != nil {
					return err
				}
			}
			specs, err := resolvePrograms(cmd.Flags(), o)
			if err != nil {
				return err
			}
			return runHerd(cmd.Context(), *o, specs, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
		},
	}
	cmd.SetUsageTemplate(cmd.UsageTemplate() + "\n" + exitCodesHelp + "\n")
	cmd.Flags().SetInterspersed(false)
	o.addRunFlags(cmd.Flags())
	return cmd
}

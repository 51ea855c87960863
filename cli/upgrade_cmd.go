package cli

import (
	"fmt"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/spf13/cobra"
)

func newUpgradeCmd() *cobra.Command {
	o := &runOptions{}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Replace the running herd with a new one, without closing a port (waits until done)",
		Long: `Replace the running herd (the herd process itself, not only its workers) with a
new one, as nginx's binary upgrade does; SIGUSR2 to herd does the same.

herd starts its executable again, from the path it was started from (so a
replaced binary is the one that runs), with the same arguments and
environment (so a changed config file takes effect), and hands it the
control socket and every listening socket. The new herd starts its workers;
once they are ready, the old herd drains its own (as a reload does) and
exits 0. The ports never close: no connection is refused and no request
fails. Under systemd (Type=notify, NotifyAccess=all) the new herd sends
MAINPID= and READY=1, so systemd follows it. The embedded state store's keys
and values are carried over, their TTLs still counting down (writes made
while the new herd starts are not); metrics counters start again from zero.

If the new herd exits, or is not ready within --timeout, it is stopped, the
old herd serves on, and herd upgrade exits 1 with the reason.`,
		Example: `  herd upgrade --name api
  cp herd-new /usr/local/bin/herd && herd upgrade --name api --timeout 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := call(cmd.Context(), o, control.Request{Cmd: control.CmdUpgrade, Timeout: timeout})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "upgraded: the new herd is pid %d\n", resp.Pid)
			return nil
		},
	}
	o.addControlFlags(cmd.Flags())
	cmd.Flags().DurationVar(&timeout, "timeout", 0,
		"stop the new herd and keep the old one if the new one's workers are not all ready within `DURATION` (0: the largest --ready-timeout + 10s)")
	return cmd
}

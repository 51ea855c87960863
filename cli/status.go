package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	o := &runOptions{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [PROGRAM]",
		Short: "Show the workers of a running herd (of PROGRAM only, if given): id, pid, state, restarts, uptime, memory",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := call(cmd.Context(), o, control.Request{Cmd: control.CmdStatus, Program: programArg(args)})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return withCode(ExitError, enc.Encode(resp.Status))
			}
			return withCode(ExitError, printStatus(cmd.OutOrStdout(), resp.Status))
		},
	}
	o.addControlFlags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

// printStatus prints a heading and a table of the workers.
func printStatus(w io.Writer, st *control.Status) error {
	if st == nil {
		return fmt.Errorf("status: empty answer")
	}
	fmt.Fprintln(w, statusHeading(st))
	if len(st.Listen) > 0 {
		fmt.Fprintf(w, "listening on %s, policy %s\n", strings.Join(st.Listen, ", "), st.Policy)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	multi := len(st.Programs) > 1
	if multi {
		fmt.Fprint(tw, "PROGRAM\t")
	}
	fmt.Fprintln(tw, "ID\tPID\tSTATE\tRESTARTS\tUPTIME\tMEMORY")
	for _, wk := range st.Workers {
		if multi {
			fmt.Fprintf(tw, "%s\t", wk.Program)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\n", wk.ID, wk.Pid, wk.State, wk.Restarts,
			roundDuration(time.Duration(wk.Uptime*float64(time.Second))), formatBytes(wk.RSS))
	}
	return tw.Flush()
}

// statusHeading is the first line of herd status and herd top: the herd,
// and its command or its programs.
func statusHeading(st *control.Status) string {
	what := strings.Join(st.Command, " ")
	if len(st.Programs) > 1 {
		names := make([]string, len(st.Programs))
		for i, p := range st.Programs {
			names[i] = p.Name
		}
		what = "programs " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("herd %q, pid %d, up %s: %s", st.Name, st.Pid, roundDuration(time.Since(st.Started)), what)
}

// roundDuration shortens a duration for people: 3m12s, 2h5m, 4d3h.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
}

// formatBytes prints a size in binary units, "-" when unknown.
func formatBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	const unit = 1024
	if n < unit*unit {
		return fmt.Sprintf("%.1f KiB", float64(n)/unit)
	}
	if n < unit*unit*unit {
		return fmt.Sprintf("%.1f MiB", float64(n)/(unit*unit))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(unit*unit*unit))
}

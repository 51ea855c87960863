package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// lsHerd is one line of herd ls --json.
type lsHerd struct {
	Name       string   `json:"name"`
	Pid        int      `json:"pid,omitempty"`
	Programs   []string `json:"programs"`
	Ready      int      `json:"ready"`   // workers ready
	Desired    int      `json:"desired"` // workers herd keeps
	Uptime     float64  `json:"uptime_seconds"`
	Control    string   `json:"control"`
	Responding bool     `json:"responding"` // false: a stale socket, or a herd that did not answer in time
	Error      string   `json:"error,omitempty"`
}

func newLsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [--json]",
		Short: "List this user's running herds: name, pid, programs, workers ready/desired, uptime, control socket",
		Long: `List the herds whose control sockets are in this user's directory
($XDG_RUNTIME_DIR/herd, else /tmp/herd-UID), asking each for its status
(2 s at most each). A socket nobody answers on is listed as not responding.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			herds, err := findHerds(cmd.Context())
			if err != nil {
				return err
			}
			rows := lsRows(herds, time.Now())
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return withCode(ExitError, enc.Encode(rows))
			}
			return withCode(ExitError, printLs(cmd.OutOrStdout(), rows))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the herds as a JSON list")
	return cmd
}

// lsRows summarizes each herd found.
func lsRows(herds []herdEntry, now time.Time) []lsHerd {
	rows := []lsHerd{}
	for _, e := range herds {
		r := lsHerd{Name: e.name, Control: e.path, Programs: []string{}}
		if st := e.status; st != nil {
			r.Pid, r.Desired, r.Responding = st.Pid, st.Desired, true
			r.Uptime = now.Sub(st.Started).Seconds()
			for _, p := range st.Programs {
				r.Programs = append(r.Programs, p.Name)
			}
			for _, w := range st.Workers {
				if w.State == "ready" {
					r.Ready++
				}
			}
		} else if e.err != nil {
			r.Error = e.err.Error()
		}
		rows = append(rows, r)
	}
	return rows
}

// printLs prints the herds as a table.
func printLs(w io.Writer, rows []lsHerd) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPID\tPROGRAMS\tWORKERS\tUPTIME\tCONTROL")
	for _, r := range rows {
		if !r.Responding {
			fmt.Fprintf(tw, "%s\t-\t-\t-\tnot responding\t%s\n", r.Name, r.Control)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Name, strconv.Itoa(r.Pid), strings.Join(r.Programs, ","),
			r.Ready, r.Desired, roundDuration(time.Duration(r.Uptime*float64(time.Second))), r.Control)
	}
	return tw.Flush()
}

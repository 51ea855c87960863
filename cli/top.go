package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// topEvery is how often herd top refreshes.
const topEvery = time.Second

// topOptions are herd top's settings.
type topOptions struct {
	runOptions // --control, --name
	watch      bool
	plain      bool
}

func newTopCmd() *cobra.Command {
	o := &topOptions{}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Watch the workers of a running herd live: CPU, memory, connections, restarts",
		Long: `Show the workers of a running herd, refreshed every second: state, pid, CPU (percent
of one core over the last second), resident memory, open connections (leastconn),
connections handed out and their rate with a sparkline, restarts and uptime.

Keys: r reloads (one worker at a time), + and - scale up and down by one worker,
q (or Esc, Ctrl-C) quits.

When stdout is not a terminal, or with --plain, herd top prints the table once
(CPU is then the average since each worker started), or every second with --watch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			if o.plain || !isTerminal(out) {
				return o.runPlain(ctx, out)
			}
			return o.runScreen(ctx)
		},
	}
	fs := cmd.Flags()
	o.addControlFlags(fs)
	fs.BoolVarP(&o.watch, "watch", "w", false, "without a terminal: print the table every second until interrupted")
	fs.BoolVar(&o.plain, "plain", false, "print a plain table even on a terminal")
	return cmd
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// status asks the herd for its status.
func (o *topOptions) status(ctx context.Context) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := call(ctx, &o.runOptions, control.Request{Cmd: control.CmdStatus})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, withCode(ExitError, errors.New("status: empty answer"))
	}
	return resp.Status, nil
}

// runPlain prints the table once, or every second with --watch.
func (o *topOptions) runPlain(ctx context.Context, out io.Writer) error {
	m := newTopModel()
	t := time.NewTicker(topEvery)
	defer t.Stop()
	for first := true; ; first = false {
		st, err := o.status(ctx)
		if err != nil {
			if !first && ctx.Err() != nil {
				return nil
			}
			return err
		}
		m.update(st, time.Now())
		if !first {
			io.WriteString(out, "\n")
		}
		if err := m.writeTable(out); err != nil || !o.watch {
			return withCode(ExitError, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

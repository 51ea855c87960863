package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/logfile"
	"github.com/spf13/cobra"
)

// logsOptions are herd logs's settings.
type logsOptions struct {
	runOptions // --control, --name
	file       string
	follow     bool
	worker     int
	lines      int
	program    string // --program
	multi      bool   // the herd runs several programs: lines name theirs
}

func newLogsCmd() *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [-f] [--program P] [--worker ID] [-n N]",
		Short: "Print the log file of a herd run with --log-file, rotated files included, oldest first",
		Long: `Print the log file of a herd started with --log-file: worker output and herd's
own log lines, the rotated files (PATH.N … PATH.1) first, then PATH. The running
herd tells where its log is (through its control socket); --log-file reads a
log without asking, even when herd has stopped. With -f, wait for new lines,
across rotations, until interrupted.`,
		Example: `  herd logs -f
  herd logs --worker 3 -n 100
  herd logs --log-file /var/log/app/herd.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.worker < 0 || o.lines < 0 {
				return usagef("--worker and --lines must not be negative")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	o.addControlFlags(fs)
	fs.StringVar(&o.file, "log-file", "", "read the log at `PATH` (default: ask the running herd)")
	fs.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted")
	fs.IntVar(&o.worker, "worker", 0, "print only the lines of worker `ID` (its output and herd's lines about it)")
	fs.IntVarP(&o.lines, "lines", "n", 0, "print only the last `N` lines first (0: all)")
	fs.StringVar(&o.program, "program", "", "print only the lines of program `P` (its workers' output and herd's lines about it)")
	return cmd
}

// run prints the log.
func (o *logsOptions) run(ctx context.Context, out io.Writer) error {
	path, err := o.logPath(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	keep := o.filter()
	var last [][]byte // the last o.lines lines, before catching up
	live := false
	emit := func(line []byte) {
		switch {
		case !keep(line):
		case live:
			bw.Write(line)
			bw.WriteByte('\n')
			bw.Flush()
		case o.lines > 0:
			if len(last) == o.lines {
				last = last[1:]
			}
			last = append(last, bytes.Clone(line))
		default:
			bw.Write(line)
			bw.WriteByte('\n')
		}
	}
	caughtUp := func() {
		for _, l := range last {
			bw.Write(l)
			bw.WriteByte('\n')
		}
		last, live = nil, true
		bw.Flush()
	}
	err = logfile.Tail(ctx, path, o.follow, emit, caughtUp)
	bw.Flush()
	if errors.Is(err, os.ErrNotExist) {
		return withCode(ExitError, fmt.Errorf("no log file at %s", path))
	}
	return withCode(ExitError, err)
}

// logPath is --log-file, or the running herd's.
func (o *logsOptions) logPath(ctx context.Context) (string, error) {
	if o.file != "" {
		o.multi = o.program != ""
		return o.file, nil
	}
	resp, err := call(ctx, &o.runOptions, control.Request{Cmd: control.CmdStatus, Program: o.program})
	if err != nil {
		return "", err
	}
	if resp.Status != nil {
		o.Name = resp.Status.Name
		o.multi = o.program != "" && len(resp.Status.Programs) > 1
	}
	if resp.Status == nil || resp.Status.LogFile == "" {
		return "", withCode(ExitError, fmt.Errorf("herd %q writes no log file: its output goes to its stdout and stderr (start it with --log-file PATH)", o.Name))
	}
	return resp.Status.LogFile, nil
}

// filter returns whether a line is to be printed: with --worker, the
// worker's own output ([ID:PID] or "worker":ID) and herd's lines about
// it (worker=ID); with --program (of a herd of several), its workers'
// output ([P.ID:PID] or "program":"P") and herd's lines about it
// (program=P).
func (o *logsOptions) filter() func([]byte) bool {
	prog, worker := o.programFilter(), o.workerFilter()
	return func(line []byte) bool { return prog(line) && worker(line) }
}

// workerFilter is --worker's part of filter.
func (o *logsOptions) workerFilter() func([]byte) bool {
	if o.worker == 0 {
		return func([]byte) bool { return true }
	}
	id := strconv.Itoa(o.worker)
	prefix := []byte("[" + id + ":")
	if o.multi {
		prefix = []byte("[" + o.program + "." + id + ":")
	}
	attr := []byte(" worker=" + id)
	jsonComma, jsonEnd := []byte(`"worker":`+id+","), []byte(`"worker":`+id+"}")
	return func(line []byte) bool {
		if bytes.HasPrefix(untimed(line), prefix) || bytes.Contains(line, jsonComma) || bytes.Contains(line, jsonEnd) {
			return true
		}
		return hasAttr(line, attr)
	}
}

// programFilter is --program's part of filter.
func (o *logsOptions) programFilter() func([]byte) bool {
	if !o.multi {
		return func([]byte) bool { return true }
	}
	prefix := []byte("[" + o.program + ".")
	attr := []byte(" program=" + o.program)
	jsonAttr := []byte(`"program":"` + o.program + `"`)
	return func(line []byte) bool {
		return bytes.HasPrefix(untimed(line), prefix) || bytes.Contains(line, jsonAttr) || hasAttr(line, attr)
	}
}

// hasAttr reports whether a text log line has the attribute attr
// (" key=value"), whole.
func hasAttr(line, attr []byte) bool {
	i := bytes.Index(line, attr)
	return i >= 0 && (i+len(attr) == len(line) || line[i+len(attr)] == ' ')
}

// untimed is a line of worker output without its --log-time time.
func untimed(line []byte) []byte {
	if len(line) > 0 && line[0] >= '0' && line[0] <= '9' {
		if i := bytes.IndexByte(line, ' '); i > 0 {
			return line[i+1:]
		}
	}
	return line
}

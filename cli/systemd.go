package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// systemdOptions are herd systemd's settings: herd run's, and where the
// unit goes.
type systemdOptions struct {
	run     runOptions
	user    bool   // a user unit (systemctl --user)
	install bool   // write the unit instead of printing it
	unitDir string // where --install writes; "" for systemd's own
}

// systemdOnly reports whether a flag is herd systemd's own, not herd run's.
func systemdOnly(name string) bool { return name == "user" || name == "install" || name == "unit-dir" }

func newSystemdCmd() *cobra.Command {
	s := &systemdOptions{}
	cmd := &cobra.Command{
		Use:   "systemd [run flags] -- COMMAND [ARG...]",
		Short: "Print a systemd unit that runs COMMAND under herd run (or --install it)",
		Long: `Print a systemd service unit that runs "herd run" with the same flags and
COMMAND: Type=notify (herd says READY=1 once its workers are), ExecReload a
rolling reload (systemctl reload waits for it, and fails if it fails),
KillMode=mixed with TimeoutStopSec from --kill-timeout (herd drains its
workers; systemd kills what is left after), RuntimeDirectory for the
control socket, and the working directory and PATH of this shell.

The unit is named after --name (herd.service by default). With --install it
is written to /etc/systemd/system (--user: ~/.config/systemd/user), and herd
says the command that starts it.`,
		Example: `  herd systemd -n 4 -l 0.0.0.0:80 --name api -- node app.js > api.service
  sudo herd systemd --install --name api -- ./server
  herd systemd --user --install --name dev -- python3 app.py`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s.run.Command = args
			if s.run.Config != "" {
				if err := applyConfig(cmd.Flags(), &s.run, s.run.Config); err != nil {
					return err
				}
			}
			return s.main(cmd.Flags(), args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().SetInterspersed(false)
	s.addFlags(cmd.Flags())
	return cmd
}

// addFlags registers herd run's flags and herd systemd's own on fs.
func (s *systemdOptions) addFlags(fs *pflag.FlagSet) {
	s.run.addRunFlags(fs)
	fs.BoolVar(&s.user, "user", false, "make a user unit, for systemctl --user")
	fs.BoolVar(&s.install, "install", false, "write the unit to --unit-dir instead of printing it, and say how to start it")
	fs.StringVar(&s.unitDir, "unit-dir", "", "the `DIR` --install writes to (default: /etc/systemd/system; with --user, $XDG_CONFIG_HOME/systemd/user or ~/.config/systemd/user)")
}

// main prints or installs the unit.
func (s *systemdOptions) main(fs *pflag.FlagSet, args []string, stdout io.Writer) error {
	u, err := s.unit(fs, args)
	if err != nil {
		return err
	}
	if !s.install {
		_, err := io.WriteString(stdout, u.render())
		return err
	}
	return s.write(u, stdout)
}

// unitNameRE is what systemd takes in a unit name.
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+$`)

// unit makes the unit for the settings; args is the command given on
// the command line (not the config file's).
func (s *systemdOptions) unit(fs *pflag.FlagSet, args []string) (*unit, error) {
	if err := s.run.validate(); err != nil {
		return nil, err
	}
	if !unitNameRE.MatchString(s.run.Name) {
		return nil, usagef("--name %q cannot name a systemd unit: use letters, digits, and :_.-", s.run.Name)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, withCode(ExitError, fmt.Errorf("systemd: cannot find herd's own executable: %w", err))
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, withCode(ExitError, fmt.Errorf("systemd: %w", err))
	}
	command, err := absCommand(args)
	if err != nil {
		return nil, err
	}
	return newUnit(s, exe, cwd, runFlags(fs), command), nil
}

// absCommand is args with the program as an absolute path: a service's
// PATH is not the shell's.
func absCommand(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, nil // from the config file, which herd run reads again
	}
	prog, err := exec.LookPath(args[0])
	if err != nil {
		return nil, usagef("cannot run %s: %w", args[0], err)
	}
	if prog, err = filepath.Abs(prog); err != nil {
		return nil, usagef("cannot run %s: %w", args[0], err)
	}
	return append([]string{prog}, args[1:]...), nil
}

// runFlags is the herd run flags set on the command line, as
// --NAME=VALUE arguments (the config file's path made absolute).
func runFlags(fs *pflag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *pflag.Flag) {
		switch {
		case systemdOnly(f.Name):
		case f.Name == "config":
			abs, _ := filepath.Abs(f.Value.String())
			out = append(out, "--config="+abs)
		case f.Value.Type() == "stringArray":
			for _, v := range f.Value.(pflag.SliceValue).GetSlice() {
				out = append(out, "--"+f.Name+"="+v)
			}
		default:
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	return out
}

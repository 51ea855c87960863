package cli

import (
	"fmt"
	"math"
	"os"
	"os/user"
	"strings"
	"time"
)

// Margins of the unit's timeouts over herd's own bounds.
const (
	unitStopMargin  = 10 * time.Second // after --kill-timeout: herd reaps its workers and exits
	unitStartMargin = 10 * time.Second // after --ready-timeout + --kill-timeout: one failed first worker replaced
	unitRestartSec  = 5                // seconds before systemd restarts a herd that gave up
)

// unit is a systemd service unit that runs herd run.
type unit struct {
	name    string // NAME.service
	user    bool   // a user unit
	lines   []string
	control string // the control socket, as the shell names it (no specifiers)
}

// unitKey is one Key=Value line of a unit section.
type unitKey struct{ key, value string }

// newUnit makes the unit of s, running exe from cwd with the run flags
// and the command (absolute; nil when the config file has it).
func newUnit(s *systemdOptions, exe, cwd string, flags, command []string) *unit {
	u := &unit{name: s.run.Name + ".service", user: s.user}
	control, shellControl := s.controlArg()
	u.control = shellControl
	start := execLine(append([]string{exe, "run"}, flags...))
	if control != "" {
		start += " " + control // unquoted: %t is a specifier
	}
	if len(command) > 0 {
		start += " -- " + execLine(command)
	}
	u.section("Unit", unitKey{"Description", escapeSpecifiers("herd " + s.run.Name + ": " + strings.Join(s.run.Command, " "))},
		unitKey{"Documentation", "https://github.com/herdhq/herd"},
		unitKey{"After", "network.target"})
	u.section("Service", s.serviceKeys(exe, cwd, start)...)
	u.section("Install", unitKey{"WantedBy", map[bool]string{false: "multi-user.target", true: "default.target"}[s.user]})
	return u
}

// serviceKeys are the [Service] section's keys.
func (s *systemdOptions) serviceKeys(exe, cwd, start string) []unitKey {
	reload := execLine([]string{exe, "reload"})
	if c, _ := s.controlArg(); c != "" {
		reload += " " + c
	} else {
		reload += " " + quoteExecArg("--control="+s.run.Control)
	}
	keys := []unitKey{{"Type", "notify"}, {"NotifyAccess", "main"},
		{"ExecStart", start}, {"ExecReload", reload},
		{"WorkingDirectory", escapeSpecifiers(cwd)}, {"Environment", quoteValue("PATH=" + os.Getenv("PATH"))},
		{"KillMode", "mixed"}, {"KillSignal", "SIGTERM"},
		{"TimeoutStopSec", seconds(s.run.KillTimeout + unitStopMargin)},
		{"TimeoutStartSec", seconds(s.run.ReadyTimeout + s.run.KillTimeout + unitStartMargin)},
		{"Restart", "on-failure"}, {"RestartSec", fmt.Sprint(unitRestartSec)}}
	if s.run.Control == "" {
		keys = append(keys, unitKey{"RuntimeDirectory", "herd-" + s.run.Name}, unitKey{"RuntimeDirectoryMode", "0700"})
	}
	if u, err := user.Current(); err == nil && !s.user && u.Uid != "0" {
		keys = append(keys, unitKey{"User", u.Username})
	}
	return keys
}

// controlArg is the --control argument the unit adds to herd's (none
// when --control is given, which the run flags carry), with the socket's
// path as a shell names it: in the unit's RuntimeDirectory, %t being
// /run for a system unit and $XDG_RUNTIME_DIR for a user unit.
func (s *systemdOptions) controlArg() (arg, shellPath string) {
	if s.run.Control != "" {
		return "", s.run.Control
	}
	rel := "herd-" + s.run.Name + "/control.sock"
	runtime := "/run"
	if s.user {
		runtime = os.Getenv("XDG_RUNTIME_DIR")
		if runtime == "" {
			runtime = "/run/user/" + fmt.Sprint(os.Getuid())
		}
	}
	return "--control=%t/" + rel, runtime + "/" + rel
}

// section adds a [name] section with keys.
func (u *unit) section(name string, keys ...unitKey) {
	if len(u.lines) > 0 {
		u.lines = append(u.lines, "")
	}
	u.lines = append(u.lines, "["+name+"]")
	for _, k := range keys {
		u.lines = append(u.lines, k.key+"="+k.value)
	}
}

// render is the unit file, with a header saying how to use it.
func (u *unit) render() string {
	head := []string{"# " + u.name + ": written by herd systemd.",
		"# Install: " + u.installHint(),
		"# Steer: systemctl " + u.systemctlFlag() + "reload " + u.name + ", herd status --control " + u.control}
	return strings.Join(append(head, u.lines...), "\n") + "\n"
}

// installHint says where the unit goes and how to start it.
func (u *unit) installHint() string {
	return "save as " + defaultUnitDir(u.user) + "/" + u.name + ", then " + u.startCommand()
}

// startCommand is the shell command that starts the installed unit.
func (u *unit) startCommand() string {
	sc := "systemctl " + u.systemctlFlag()
	return sc + "daemon-reload && " + sc + "enable --now " + u.name
}

func (u *unit) systemctlFlag() string {
	if u.user {
		return "--user "
	}
	return ""
}

// seconds is d in whole seconds, rounded up, for a unit's timeouts.
func seconds(d time.Duration) string {
	return fmt.Sprint(int64(math.Ceil(d.Seconds())))
}

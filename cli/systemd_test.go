package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/spf13/pflag"
)

// trickyArgs are command arguments that systemd would split, expand or
// take for specifiers if written as they are.
var trickyArgs = []string{"-c", `echo "$HOME" 'it''s' \ 50% done; ;`, "two words", "", ";", "$PATH", "%t", "tab\there"}

// herdSystemd runs herd systemd ARGS and returns its output.
func herdSystemd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runRoot(context.Background(), Build{}, append([]string{"systemd"}, args...), &out, &errb); code != 0 {
		t.Fatalf("herd systemd %q: exit %d: %s", args, code, errb.String())
	}
	return out.String()
}

// TestSystemdUnit: the printed unit, parsed key by key: Type=notify,
// ExecStart running herd run with the same flags and command (every
// argument intact through systemd's quoting, checked by parsing it back
// with herd run's own flags), ExecReload, KillMode and timeouts from
// --kill-timeout and --ready-timeout, the RuntimeDirectory of the
// control socket.
func TestSystemdUnit(t *testing.T) {
	args := append([]string{"-n", "4", "-l", "127.0.0.1:8080", "-l", "unix:/tmp/a b.sock", "--name", "api",
		"--kill-timeout", "20s", "--ready-timeout", "5s", "--idle-grace", "0", "--", "sh"}, trickyArgs...)
	text := herdSystemd(t, args...)
	u := parseUnit(t, text)
	exe, _ := os.Executable()
	cwd, _ := os.Getwd()
	sh, _ := exec.LookPath("sh")
	control := "--control=%t/herd-api/control.sock"
	for key, want := range map[string]string{
		"Unit.After": "network.target", "Service.Type": "notify", "Service.NotifyAccess": "main",
		"Service.KillMode": "mixed", "Service.KillSignal": "SIGTERM", "Service.TimeoutStopSec": "30",
		"Service.TimeoutStartSec": "35", "Service.Restart": "on-failure", "Service.WorkingDirectory": cwd,
		"Service.RuntimeDirectory": "herd-api", "Service.RuntimeDirectoryMode": "0700",
		"Install.WantedBy":   "multi-user.target",
		"Service.ExecReload": strings.Join([]string{exe, "reload", control}, "\x00"),
	} {
		if got := u.get(t, key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	start := strings.Split(u.get(t, "Service.ExecStart"), "\x00")
	if len(start) < 2 || start[0] != exe || start[1] != "run" {
		t.Fatalf("ExecStart %q, want %s run ...", start, exe)
	}
	o := parseRunArgs(t, start[2:])
	wantCmd := append([]string{sh}, trickyArgs...)
	if o.Workers != 4 || o.Name != "api" || o.KillTimeout != 20*time.Second || o.ReadyTimeout != 5*time.Second ||
		o.IdleGrace != 0 || o.Control != "%t/herd-api/control.sock" ||
		!slices.Equal(o.Listen, []string{"127.0.0.1:8080", "unix:/tmp/a b.sock"}) || !slices.Equal(o.Command, wantCmd) {
		t.Fatalf("ExecStart gives herd run %+v, want the flags and command %q", o, wantCmd)
	}
	verifyUnit(t, text)
}

// parseRunArgs parses args with herd run's flags.
func parseRunArgs(t *testing.T, args []string) *runOptions {
	t.Helper()
	o := &runOptions{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	o.addRunFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("herd run %q: %v", args, err)
	}
	o.Command = fs.Args()
	return o
}

// TestSystemdInstallUser: --user --install writes a user unit into
// --unit-dir, whole (no temporary file left), and says the next command.
func TestSystemdInstallUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "systemd", "user")
	out := herdSystemd(t, "--user", "--install", "--unit-dir", dir, "--name", "dev", "--", "sh", "-c", "sleep 1")
	path := filepath.Join(dir, "dev.service")
	if !strings.Contains(out, "wrote "+path) || !strings.Contains(out, "systemctl --user daemon-reload && systemctl --user enable --now dev.service") {
		t.Fatalf("herd systemd --install said:\n%s", out)
	}
	entries, _ := os.ReadDir(dir)
	fi, err := os.Stat(path)
	if err != nil || len(entries) != 1 || fi.Mode().Perm() != 0o644 {
		t.Fatalf("unit dir holds %v; unit: %v %v, want dev.service alone, 0644", entries, fi, err)
	}
	data, _ := os.ReadFile(path)
	u := parseUnit(t, string(data))
	if got := u.get(t, "Install.WantedBy"); got != "default.target" {
		t.Errorf("WantedBy=%q, want default.target", got)
	}
	if _, ok := u["Service.User"]; ok {
		t.Errorf("a user unit with User=%q", u["Service.User"])
	}
}

// TestSystemdRefuses: what cannot make a unit is a usage error.
func TestSystemdRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--name", "a b", "--", "sh"},
		{"--name", "api"},
		{"--", "no-such-program-here"},
		{"-n", "0", "--", "sh"},
	} {
		var out, errb bytes.Buffer
		if code := runRoot(context.Background(), Build{}, append([]string{"systemd"}, args...), &out, &errb); code != ExitUsage {
			t.Errorf("herd systemd %q: exit %d (%s), want %d", args, code, errb.String(), ExitUsage)
		}
	}
}

// verifyUnit has systemd-analyze check the unit, where it is installed.
func verifyUnit(t *testing.T, text string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("no systemd-analyze: the unit is not verified by systemd")
		return
	}
	path := filepath.Join(t.TempDir(), "api.service")
	os.WriteFile(path, []byte(text), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, text)
	}
}

// parseUnit parses a unit file, or fails the test.
func parseUnit(t *testing.T, text string) systemdUnit {
	t.Helper()
	u, err := testutil.ParseUnit(text)
	if err != nil {
		t.Fatalf("%v in:\n%s", err, text)
	}
	return systemdUnit(u)
}

// systemdUnit is a parsed unit that fails the test on a missing key.
type systemdUnit testutil.Unit

// get is the one value of key.
func (u systemdUnit) get(t *testing.T, key string) string {
	t.Helper()
	v, err := testutil.Unit(u).Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

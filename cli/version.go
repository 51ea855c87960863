package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build says which build of herd runs: both fields are set at build time
// by -ldflags (GoReleaser's); empty ones are taken from the module and
// VCS information Go records in the binary.
type Build struct {
	Version string // v1.2.3; else the module version, else "devel"
	Commit  string // the VCS revision; else vcs.revision, else none
}

func newVersionCmd(b Build) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print herd's version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), b.line())
			return nil
		},
	}
}

// line is herd version's output: "herd VERSION [COMMIT] GO OS/ARCH".
func (b Build) line() string {
	bi, _ := debug.ReadBuildInfo()
	s := "herd " + versionString(b.Version, bi)
	if c := commitString(b.Commit, bi); c != "" {
		s += " " + c
	}
	return fmt.Sprintf("%s %s %s/%s", s, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionString is version, or the module version the binary was built
// from (go install ...@v1.2.3), or "devel".
func versionString(version string, bi *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// commitString is commit, or the VCS revision go build recorded (with
// -dirty for uncommitted changes), shortened to 12 characters; or "".
func commitString(commit string, bi *debug.BuildInfo) string {
	if commit == "" && bi != nil {
		commit = buildSetting(bi, "vcs.revision")
		if commit != "" && buildSetting(bi, "vcs.modified") == "true" {
			commit = commit[:min(12, len(commit))] + "-dirty"
		}
	}
	if len(commit) > 12 && commit[12] != '-' {
		commit = commit[:12]
	}
	return commit
}

// buildSetting is the value of key in bi's settings, or "".
func buildSetting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

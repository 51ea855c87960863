package cli

import (
	"runtime/debug"
	"testing"
)

// herd version carries the version and commit given by -ldflags, else
// those Go recorded in the binary.
func TestVersionAndCommit(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		b                   Build
		bi                  *debug.BuildInfo
		wantVersion, commit string
	}{
		{Build{"v1.3.0", "fedcba9876543210"}, vcs, "v1.3.0", "fedcba987654"},
		{Build{}, vcs, "v1.2.0", "0123456789ab-dirty"},
		{Build{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel", ""},
		{Build{}, nil, "devel", ""},
	} {
		if v, cm := versionString(c.b.Version, c.bi), commitString(c.b.Commit, c.bi); v != c.wantVersion || cm != c.commit {
			t.Errorf("%+v: version %q commit %q, want %q %q", c.b, v, cm, c.wantVersion, c.commit)
		}
	}
}

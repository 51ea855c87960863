package cli

import (
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/spf13/pflag"
)

// --idle-grace reaches the cluster; 0 means at once (a negative
// IdleGrace), not the cluster's default.
func TestIdleGraceFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{nil, cluster.DefaultIdleGrace},
		{[]string{"--idle-grace", "2.5s"}, 2500 * time.Millisecond},
		{[]string{"--idle-grace", "0"}, -1},
	} {
		var o runOptions
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		o.addRunFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := o.clusterConfig(nil).IdleGrace; got != c.want {
			t.Errorf("%q: IdleGrace %v, want %v", c.args, got, c.want)
		}
	}
}

package cli

import (
	"strings"
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/spf13/pflag"
)

// --policy sticky, --sticky-header and --proxy-protocol reach the cluster;
// the flags a policy cannot use are refused.
func TestStickyFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string // "": valid
	}{
		{[]string{"--policy", "sticky", "--sticky-header", "X-Forwarded-For", "--proxy-protocol"}, ""},
		{[]string{"--proxy-protocol"}, ""},
		{[]string{"--sticky-header", "X-Real-IP"}, "needs --policy sticky"},
		{[]string{"--policy", "sticky", "--sticky-header", "X Real"}, "not an HTTP header name"},
		{[]string{"--policy", "shared", "--proxy-protocol"}, "--proxy-protocol needs"},
		{[]string{"--policy", "nope"}, "must be rr, leastconn, sticky"},
	} {
		var o runOptions
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		o.addRunFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := o.validatePolicy()
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: %v, want %q", c.args, err, c.err)
		}
	}
	var o runOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o.addRunFlags(fs)
	fs.Parse([]string{"--policy", "sticky", "--sticky-header", "X-Real-IP", "--proxy-protocol"})
	cfg := o.clusterConfig(nil)
	if cfg.Policy != cluster.Sticky || cfg.StickyHeader != "X-Real-IP" || !cfg.ProxyProtocol {
		t.Fatalf("config %v %q %v", cfg.Policy, cfg.StickyHeader, cfg.ProxyProtocol)
	}
}

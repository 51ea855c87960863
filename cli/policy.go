package cli

import (
	"strings"

	"github.com/herdhq/herd/cluster"
)

// validatePolicy checks --policy, and the flags that only some policies
// take.
func (o *runOptions) validatePolicy() error {
	policy, err := cluster.ParsePolicy(o.Policy)
	switch {
	case err != nil || o.Policy == "":
		return usagef("--policy must be rr, leastconn, sticky, shared or reuseport, got %q", o.Policy)
	case o.StickyHeader != "" && policy != cluster.Sticky:
		return usagef("--sticky-header needs --policy sticky")
	case o.StickyHeader != "" && !isHeaderName(o.StickyHeader):
		return usagef("--sticky-header %q is not an HTTP header name", o.StickyHeader)
	case o.ProxyProtocol && policy != cluster.RoundRobin && policy != cluster.LeastConn && policy != cluster.Sticky:
		return usagef("--proxy-protocol needs --policy rr, leastconn or sticky (herd must accept the connections)")
	}
	return nil
}

// isHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func isHeaderName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") == ""
}

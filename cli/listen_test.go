package cli

import "testing"

func TestParseListen(t *testing.T) {
	for _, c := range []struct {
		spec, name, network, address string
	}{
		{"127.0.0.1:8080", "herd", "tcp", "127.0.0.1:8080"},
		{":80", "herd", "tcp", ":80"},
		{"tcp://[::1]:80", "herd", "tcp", "[::1]:80"},
		{"tcp6://[::1]:http", "herd", "tcp6", "[::1]:http"},
		{"udp://127.0.0.1:53", "herd", "udp", "127.0.0.1:53"},
		{"unix:/run/app.sock", "herd", "unix", "/run/app.sock"},
		{"unix:///run/app.sock", "herd", "unix", "/run/app.sock"},
		{"web=127.0.0.1:8080", "web", "tcp", "127.0.0.1:8080"},
		{"admin=unix:/run/a=b.sock", "admin", "unix", "/run/a=b.sock"},
		{"unix:/run/a=b.sock", "herd", "unix", "/run/a=b.sock"},
	} {
		l, err := parseListen(c.spec, "herd")
		if err != nil || l.name != c.name || l.addr.Network != c.network || l.addr.Address != c.address {
			t.Errorf("parseListen(%q) = %+v, %v; want %s %s %s", c.spec, l, err, c.name, c.network, c.address)
		}
	}
	for _, bad := range []string{"", "localhost", "127.0.0.1:port", "sctp://1.2.3.4:5", "unix:", "a:b=127.0.0.1:1", "bad name=127.0.0.1:1"} {
		if _, err := parseListen(bad, "herd"); err == nil || codeOf(err) != ExitUsage {
			t.Errorf("parseListen(%q): %v, want a usage error", bad, err)
		}
	}
}

package cli

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512KB": 512 << 10, "10MB": 10 << 20, "1GB": 1 << 30, "1gb": 1 << 30, "300 MB": 300 << 20,
		"1.5MB": 3 << 19, "64KiB": 64 << 10, "2M": 2 << 20, "100": 100, "100B": 100, "0": 0,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "10XB", "ten", "1e30GB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
	for n, want := range map[int64]string{10 << 20: "10MB", 512 << 10: "512KB", 1 << 30: "1GB", 1000: "1000B", 0: "0"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes a size may have, longest first; KB, MB and
// GB are binary (1 KB = 1024 bytes), as KiB, MiB and GiB.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize parses a size such as 512KB, 10MB or 1GB (binary units; KiB,
// K, B and a plain number of bytes are accepted too).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("bad size %q: want a number of bytes with KB, MB or GB, as 512KB, 10MB, 1GB", s)
	}
	return int64(f * float64(mult)), nil
}

// formatSize prints a size with the largest unit that divides it.
func formatSize(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// byteSize is a size flag (pflag.Value).
type byteSize int64

func (b *byteSize) String() string { return formatSize(int64(*b)) }

// Set parses a size.
func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// Type names the flag's kind in help.
func (b *byteSize) Type() string { return "size" }

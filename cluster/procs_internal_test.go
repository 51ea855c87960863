package cluster

import (
	"runtime"
	"slices"
	"strconv"
	"testing"
)

func TestProcsEnv(t *testing.T) {
	t.Parallel()
	cpus := runtime.NumCPU()
	share := func(workers int) string { return "GOMAXPROCS=" + strconv.Itoa(max(1, cpus/workers)) }
	cases := []struct {
		name           string
		env            []string
		procs, workers int
		want           []string
	}{
		{"one worker per CPU", []string{"A=1"}, 0, cpus, []string{"A=1", "GOMAXPROCS=1"}},
		{"fewer workers than CPUs", nil, 0, 1, []string{share(1)}},
		{"more workers than CPUs", nil, 0, 4 * cpus, []string{"GOMAXPROCS=1"}},
		{"explicit", nil, 3, 2, []string{"GOMAXPROCS=3"}},
		{"left alone", []string{"A=1"}, -1, 2, []string{"A=1"}},
		{"the user's own wins", []string{"GOMAXPROCS=7"}, 0, 2, []string{"GOMAXPROCS=7"}},
	}
	for _, c := range cases {
		if got := procsEnv(slices.Clone(c.env), c.procs, c.workers); !slices.Equal(got, c.want) {
			t.Errorf("%s: procsEnv(%q, %d, %d) = %q, want %q", c.name, c.env, c.procs, c.workers, got, c.want)
		}
	}
}

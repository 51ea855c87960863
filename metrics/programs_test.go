package metrics_test

import (
	"testing"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/metrics"
)

// fixedSource reports a cluster that wants n workers.
type fixedSource int

func (n fixedSource) Stats() (cluster.Stats, error) { return cluster.Stats{Desired: int(n)}, nil }

// The metrics of several programs served together carry a program label.
func TestProgramLabel(t *testing.T) {
	reg := metrics.NewProgramsRegistry([]metrics.Program{{Name: "web", Source: fixedSource(4)}, {Name: "jobs", Source: fixedSource(2)}})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "herd_workers_desired" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "program" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if got["web"] != 4 || got["jobs"] != 2 || len(got) != 2 {
		t.Errorf("herd_workers_desired by program: %v, want web 4, jobs 2", got)
	}
}

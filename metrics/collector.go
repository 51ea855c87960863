package metrics

import (
	"strconv"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/procstat"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what the collector reads: a *cluster.Primary.
type Source interface {
	Stats() (cluster.Stats, error)
}

// states are the values of herd_worker_state's state label.
var states = []cluster.State{cluster.StateStarting, cluster.StateReady, cluster.StateDraining}

// Collector is a prometheus.Collector of a cluster.
type Collector struct {
	src Source
	d   descs
}

// NewCollector returns a collector of src.
func NewCollector(src Source) *Collector {
	return &Collector{src: src, d: newDescs("")}
}

// Program is one of several clusters whose metrics are served together:
// its metrics carry the label program="Name" (none when Name is "").
type Program struct {
	Name   string
	Source Source
}

// NewProgramCollector returns a collector of p's cluster, its metrics
// labelled with its name.
func NewProgramCollector(p Program) *Collector {
	return &Collector{src: p.Source, d: newDescs(p.Name)}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect reads a snapshot and sends its metrics; none once the cluster
// has stopped.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.src.Stats()
	if err != nil {
		return
	}
	now := time.Now()
	c.collectCluster(ch, &st)
	for i := range st.Workers {
		c.collectWorker(ch, &st.Workers[i], now)
	}
}

func (c *Collector) collectCluster(ch chan<- prometheus.Metric, st *cluster.Stats) {
	d, t := &c.d, &st.Totals
	byState := map[cluster.State]int{}
	for _, w := range st.Workers {
		byState[w.State]++
	}
	for _, s := range states {
		gauge(ch, d.workers, float64(byState[s]), string(s))
	}
	gauge(ch, d.desired, float64(st.Desired))
	counter(ch, d.started, t.Started)
	counter(ch, d.crashes, t.Crashes)
	counter(ch, d.restarts, t.Restarts)
	counter(ch, d.replacements, t.MemoryReplacements, "memory")
	counter(ch, d.replacements, t.HeartbeatReplacements, "heartbeat")
	counter(ch, d.reloads, t.Reloads)
	counter(ch, d.giveUps, t.GiveUps)
	counter(ch, d.handed, t.Handed)
	counter(ch, d.received, t.MessagesIn, "user")
	counter(ch, d.received, t.InternalIn, "internal")
	counter(ch, d.sent, t.MessagesOut, "user")
	counter(ch, d.sent, t.InternalOut, "internal")
	seen := map[int]bool{}
	for _, w := range st.Workers {
		if !seen[w.Slot] && w.State != cluster.StateDraining {
			seen[w.Slot] = true
			counter(ch, d.slotRestarts, uint64(w.Restarts), strconv.Itoa(w.Slot))
		}
	}
}

func (c *Collector) collectWorker(ch chan<- prometheus.Metric, w *cluster.WorkerStats, now time.Time) {
	d := &c.d
	id, slot := strconv.Itoa(w.ID), strconv.Itoa(w.Slot)
	gauge(ch, d.info, 1, id, slot, strconv.Itoa(w.Pid), strconv.Itoa(w.Generation), w.Protocol)
	for _, s := range states {
		gauge(ch, d.state, boolValue(w.State == s), id, slot, string(s))
	}
	gauge(ch, d.suspected, boolValue(w.Suspected), id, slot)
	gauge(ch, d.startTime, float64(w.Started.UnixNano())/1e9, id, slot)
	gauge(ch, d.uptime, now.Sub(w.Started).Seconds(), id, slot)
	if s, err := procstat.Read(w.Pid); err == nil {
		gauge(ch, d.rss, float64(s.RSS), id, slot)
		ch <- prometheus.MustNewConstMetric(d.cpu, prometheus.CounterValue, s.CPU.Seconds(), id, slot)
	}
	counter(ch, d.workerHanded, uint64(max(w.Handed, 0)), id, slot)
	if w.OpenKnown {
		gauge(ch, d.open, float64(max(w.Conns, 0)), id, slot)
	}
	counter(ch, d.workerReceived, w.MessagesIn, id, slot, "user")
	counter(ch, d.workerReceived, w.InternalIn, id, slot, "internal")
	counter(ch, d.workerSent, w.MessagesOut, id, slot, "user")
	counter(ch, d.workerSent, w.InternalOut, id, slot, "internal")
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

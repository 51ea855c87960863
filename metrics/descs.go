package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the collector's metric descriptions.
type descs struct {
	// The cluster.
	workers, desired, started, crashes, restarts, replacements, reloads, giveUps *prometheus.Desc
	handed, received, sent, slotRestarts                                         *prometheus.Desc
	// Each live worker.
	info, state, suspected, startTime, uptime, rss, cpu, workerHanded, open *prometheus.Desc
	workerReceived, workerSent                                              *prometheus.Desc
}

// workerLabels name a worker: its id, and the slot it fills (stable over
// restarts).
var workerLabels = []string{"worker", "slot"}

func withWorker(extra ...string) []string {
	return append(append([]string(nil), workerLabels...), extra...)
}

// newDescs describes the metrics of a cluster; a program, if not "",
// is the value of a constant program label on each.
func newDescs(program string) descs {
	var constLabels prometheus.Labels
	if program != "" {
		constLabels = prometheus.Labels{"program": program}
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("herd_"+name, help, labels, constLabels)
	}
	return descs{
		workers:      d("workers", "Live workers by state.", "state"),
		desired:      d("workers_desired", "The number of workers the cluster keeps."),
		started:      d("worker_starts_total", "Worker processes started."),
		crashes:      d("worker_crashes_total", "Workers that exited without being asked to."),
		restarts:     d("restarts_total", "Workers replaced after a crash, a Leave or a failed health check."),
		replacements: d("worker_replacements_total", "Unhealthy workers replaced, by reason: memory (--max-memory) or heartbeat (--heartbeat-timeout).", "reason"),
		reloads:      d("reloads_total", "Rolling reloads started."),
		giveUps:      d("giveups_total", "Times the cluster gave up after too many restarts (0 or 1)."),
		handed:       d("connections_handed_total", "Connections herd accepted and handed to a worker (round-robin and least-connections), exited workers included."),
		received:     d("ipc_messages_received_total", "Messages received from workers, exited ones included, by kind: user or internal (herd's and Node's own).", "kind"),
		sent:         d("ipc_messages_sent_total", "Messages sent to workers, exited ones included, by kind: user or internal (connection hand-offs included).", "kind"),
		slotRestarts: d("slot_restarts_total", "Restarts of a worker slot.", "slot"),

		info:           d("worker_info", "A live worker: its pid, reload generation and protocol (herd, node, or empty).", withWorker("pid", "generation", "protocol")...),
		state:          d("worker_state", "1 for the worker's state (starting, ready, draining), 0 for the others.", withWorker("state")...),
		suspected:      d("worker_suspected", "1 while the worker misses heartbeats and gets no round-robin traffic.", workerLabels...),
		startTime:      d("worker_start_time_seconds", "When the worker started, in seconds since the Unix epoch.", workerLabels...),
		uptime:         d("worker_uptime_seconds", "How long the worker has run.", workerLabels...),
		rss:            d("worker_resident_memory_bytes", "The worker process's resident memory.", workerLabels...),
		cpu:            d("worker_cpu_seconds_total", "The worker process's user and system CPU time.", workerLabels...),
		workerHanded:   d("worker_connections_handed_total", "Connections handed to the worker by herd.", workerLabels...),
		open:           d("worker_connections_open", "Connections handed to the worker and not yet closed (least-connections with herd's protocol only).", workerLabels...),
		workerReceived: d("worker_ipc_messages_received_total", "Messages received from the worker, by kind: user or internal.", withWorker("kind")...),
		workerSent:     d("worker_ipc_messages_sent_total", "Messages sent to the worker, by kind: user or internal.", withWorker("kind")...),
	}
}

// all lists every description.
func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.workers, d.desired, d.started, d.crashes, d.restarts, d.replacements, d.reloads,
		d.giveUps, d.handed, d.received, d.sent, d.slotRestarts, d.info, d.state, d.suspected, d.startTime, d.uptime,
		d.rss, d.cpu, d.workerHanded, d.open, d.workerReceived, d.workerSent}
}

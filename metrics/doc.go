// Package metrics exposes a herd cluster in Prometheus's format: per
// worker its state, uptime, memory, CPU time, connections and messages,
// per slot its restarts, and the cluster's totals (starts, crashes,
// restarts, replacements, reloads, give-ups), with the primary's own
// process and Go runtime metrics.
//
// The collector reads Primary.Stats at each scrape and keeps no series
// of its own: a worker that exited disappears from the next scrape, so
// the number of series follows the live workers, never their history.
// Nothing is registered globally: NewRegistry makes a registry of its own.
package metrics

package cli

import (
	"os"
	"runtime"
	"runtime/debug"
)

// The Go runtime settings of herd's own process while it runs a cluster.
// The primary accepts, hands connections on and supervises: one P serves
// that with fewer threads and fewer wake-ups of idle threads than one per
// CPU, and leaves the CPUs to the workers; and its heap is small, so a
// lower GOGC than the default 100 (whose floor is a 4 MiB heap) keeps
// its memory down under load for a few more short collections.
const (
	primaryProcs = 1
	primaryGOGC  = 50
)

// tunePrimaryRuntime applies primaryProcs and, unless GOGC is set in
// herd's environment, primaryGOGC. It goes through the runtime, not the
// environment, so nothing reaches the workers: they still get their share
// of the CPUs, or the GOMAXPROCS the user set in herd's environment
// (cluster.Config.WorkerProcs).
func tunePrimaryRuntime() {
	runtime.GOMAXPROCS(primaryProcs)
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(primaryGOGC)
	}
}

package cli

import (
	"io"
	"path/filepath"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/logfile"
	"github.com/herdhq/herd/metrics"
	"github.com/spf13/pflag"
)

// Defaults of herd run's operating flags.
const (
	defaultLogMaxSize       = 10 << 20
	defaultLogMaxFiles      = 5
	defaultHeartbeatTimeout = 30 * time.Second
	minLogMaxSize           = 1 << 10
)

// opsOptions are herd run's settings for operating it: metrics, the log
// file, and the health checks of workers.
type opsOptions struct {
	Metrics          string
	LogFile          string
	LogMaxSize       byteSize
	LogMaxFiles      int
	MaxMemory        byteSize
	MaxMessage       byteSize
	HeartbeatTimeout time.Duration
	LogMessages      int // workers' messages logged a second, per worker; -1: all
}

// addFlags registers the operating flags on fs.
func (o *opsOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Metrics, "metrics", "", "serve Prometheus metrics on `HOST:PORT` at /metrics (off by default)")
	fs.StringVar(&o.LogFile, "log-file", "", "write worker output and herd's own log to `PATH` instead of stdout and stderr, rotated by size")
	o.LogMaxSize = defaultLogMaxSize
	fs.Var(&o.LogMaxSize, "log-max-size", "rotate --log-file when it would grow past `SIZE` (512KB, 10MB, 1GB)")
	fs.IntVar(&o.LogMaxFiles, "log-max-files", defaultLogMaxFiles, "keep at most `N` log files: --log-file and N-1 rotated ones (PATH.1 is the newest)")
	fs.IntVar(&o.LogMessages, "log-messages", defaultMessageLogRate,
		"log at most `N` messages a second of each worker (process.send), in bursts of up to 2N, and count the others in a \"messages not logged\" line (-1: log all)")
	fs.Var(&o.MaxMemory, "max-memory", "replace a worker whose resident memory stays above `SIZE` (300MB) for 3 checks a second apart (0: no limit)")
	o.MaxMessage = cluster.DefaultMaxMessage
	fs.Var(&o.MaxMessage, "max-message", "cut off (kill and replace) a worker that sends a message longer than `SIZE` on its channel (herd's protocol, Node's process.send)")
	fs.DurationVar(&o.HeartbeatTimeout, "heartbeat-timeout", defaultHeartbeatTimeout,
		"take a worker of herd's Go library that sent no heartbeat for `DURATION` for hung: SIGABRT (its stacks go to the log), SIGKILL, replace (0: off)")
}

// validate checks the operating settings.
func (o *opsOptions) validate() error {
	switch {
	case o.LogFile != "" && o.LogMaxSize < minLogMaxSize:
		return usagef("--log-max-size must be at least 1KB, got %s", o.LogMaxSize.String())
	case o.LogFile != "" && o.LogMaxFiles < 1:
		return usagef("--log-max-files must be at least 1, got %d", o.LogMaxFiles)
	case o.MaxMemory < 0:
		return usagef("--max-memory must not be negative")
	case o.LogMessages < -1:
		return usagef("--log-messages must be 0 or more, or -1 to log all; got %d", o.LogMessages)
	case o.MaxMessage != 0 && o.MaxMessage < 1<<10:
		return usagef("--max-message must be at least 1KB, got %s", o.MaxMessage.String())
	case o.MaxMessage > 1<<30:
		return usagef("--max-message must be at most 1GB, got %s", o.MaxMessage.String())
	case o.HeartbeatTimeout < 0:
		return usagef("--heartbeat-timeout must not be negative, got %s", o.HeartbeatTimeout)
	}
	return nil
}

// apply sets the health checks in the cluster's configuration.
func (o *opsOptions) apply(cfg *cluster.Config) {
	cfg.MaxMemory = int64(o.MaxMemory)
	cfg.MaxMessage = int(o.MaxMessage)
	cfg.HeartbeatTimeout = o.HeartbeatTimeout
}

// opsRuntime is what the operating flags open in a running herd.
type opsRuntime struct {
	logw    *logfile.Writer // --log-file, or nil
	logPath string          // its absolute path
	metrics *metrics.Server // --metrics, or nil
	served  chan struct{}   // closed when the metrics server has returned
}

// openLog opens --log-file, if set, and returns the writer that then
// takes both worker output and herd's log; otherwise stdout and stderr.
func (h *herd) openLog(stdout, stderr io.Writer) (io.Writer, io.Writer, error) {
	if h.opts.LogFile == "" {
		return stdout, stderr, nil
	}
	path, err := filepath.Abs(h.opts.LogFile)
	if err != nil {
		return nil, nil, usagef("--log-file: %w", err)
	}
	w, err := logfile.Open(path, int64(h.opts.LogMaxSize), h.opts.LogMaxFiles)
	if err != nil {
		return nil, nil, usagef("--log-file: %w", err)
	}
	w.Errors = stderr // failed writes are reported where herd would log without --log-file
	h.logw, h.logPath = w, path
	sw := &syncWriter{w: w}
	return sw, sw, nil
}

// listenMetrics binds --metrics, if set: every program's metrics, with
// a program label when the herd has several.
func (h *herd) listenMetrics() error {
	if h.opts.Metrics == "" {
		return nil
	}
	srcs := make([]metrics.Program, len(h.progs))
	for i, pr := range h.progs {
		srcs[i] = metrics.Program{Source: pr.p}
		if len(h.progs) > 1 {
			srcs[i].Name = pr.name
		}
	}
	srv, err := metrics.ListenPrograms(h.opts.Metrics, srcs)
	if err != nil {
		return withCode(ExitBind, err)
	}
	h.metrics = srv
	return nil
}

// startOps serves the metrics.
func (h *herd) startOps() {
	h.served = make(chan struct{})
	if h.metrics == nil {
		close(h.served)
		return
	}
	h.log.Info("metrics", "addr", "http://"+h.metrics.Addr()+metrics.Path)
	go func() {
		defer close(h.served)
		if err := h.metrics.Serve(); err != nil {
			h.log.Error("metrics", "err", err.Error())
		}
	}()
}

// stopOps stops the metrics server and closes the log file; nothing is
// logged after it.
func (h *herd) stopOps() {
	if h.metrics != nil {
		h.metrics.Close()
		<-h.served
	}
	if h.logw != nil {
		h.logw.Close()
	}
}

// closeOpened closes what openLog and listenMetrics opened, when herd
// fails before it runs.
func (h *herd) closeOpened() {
	if h.metrics != nil {
		h.metrics.Close()
	}
	if h.logw != nil {
		h.logw.Close()
	}
}

// metricsAddr is where the metrics are served, or "".
func (h *herd) metricsAddr() string {
	if h.metrics == nil {
		return ""
	}
	return h.metrics.Addr()
}

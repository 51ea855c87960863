package cli

import (
	"os"
	"runtime"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// runOptions are herd run's settings, from flags and the config file.
type runOptions struct {
	Workers       int
	MaxWorkers    int // 0: cluster.DefaultMaxWorkers
	MaxSockets    int // per worker; 0: cluster.DefaultMaxWorkerSockets (herd demo)
	Listen        []string
	Policy        string
	StickyHeader  string // --sticky-header: under sticky, the header that identifies a client
	ProxyProtocol bool   // --proxy-protocol: read and strip a PROXY header (v1, v2)
	MaxRestarts   int
	RestartWindow time.Duration
	KillTimeout   time.Duration
	IdleGrace     time.Duration
	ReadyTimeout  time.Duration
	Control       string
	Name          string
	Config        string
	LogFormat     string
	State         string   // the workers' HERD_STATE_URL
	Command       []string // COMMAND [ARG...]
	Env           []string // KEY=VALUE added to the workers' environment
	EnvFile       string   // a file of KEY=VALUE lines for the workers' environment
	Cwd           string   // the workers' working directory; "": herd's
	LogTime       bool     // start each worker output line with its time (text)
	Procfile      string   // run each entry of this Procfile as a program
	Formation     string   // with Procfile: NAME=N,... workers of each (all=N)
	opsOptions             // metrics, log file, health checks (ops.go)
	watchOptions           // --watch (watch.go)

	programs  *yaml.Node // the config file's programs mapping, or nil
	configDir string     // the config file's directory, for its relative paths
}

// addRunFlags registers herd run's flags on fs, with their defaults.
func (o *runOptions) addRunFlags(fs *pflag.FlagSet) {
	fs.IntVarP(&o.Workers, "workers", "n", runtime.NumCPU(), "the number `N` of workers")
	fs.Lookup("workers").DefValue = "one per CPU"
	fs.IntVar(&o.MaxWorkers, "max-workers", 0, "refuse -n and herd scale over `N` workers (0: what herd's limits allow: min((RLIMIT_NOFILE-256)/8, (RLIMIT_NPROC-256)/2, 9000))")
	fs.IntVar(&o.MaxSockets, "max-worker-sockets", cluster.DefaultMaxWorkerSockets,
		"refuse a worker's request for a socket (EMFILE) once it holds `N` that herd bound for it (Go library, Node listen)")
	fs.StringArrayVarP(&o.Listen, "listen", "l", nil,
		"bind `ADDR` once and pass it to every worker (repeatable): 127.0.0.1:8080, tcp://HOST:PORT, unix:/PATH, udp://HOST:PORT; NAME=ADDR sets its LISTEN_FDNAMES name")
	fs.StringVar(&o.Policy, "policy", "rr", "how connections are shared: `POLICY` is rr, leastconn, sticky (a client stays on one worker: its address or --sticky-header picks it), shared or reuseport")
	fs.StringVar(&o.StickyHeader, "sticky-header", "",
		"with --policy sticky, identify a client by this request `HEADER` (X-Forwarded-For, X-Real-IP: behind a proxy), read from its first request, instead of its address")
	fs.BoolVar(&o.ProxyProtocol, "proxy-protocol", false,
		"read and strip the PROXY protocol header (v1 or v2) a load balancer puts before each connection (rr, leastconn, sticky); sticky uses its client address")
	fs.IntVar(&o.MaxRestarts, "max-restarts", cluster.DefaultMaxRestarts, "give up after more than `N` unexpected exits within --restart-window (-1: never)")
	fs.DurationVar(&o.RestartWindow, "restart-window", cluster.DefaultRestartWindow, "the sliding `WINDOW` of --max-restarts")
	fs.DurationVar(&o.KillTimeout, "kill-timeout", cluster.DefaultKillTimeout, "how long (`DURATION`) a stopping worker may drain before SIGKILL")
	fs.DurationVar(&o.IdleGrace, "idle-grace", cluster.DefaultIdleGrace,
		"how long (`DURATION`) a stopping worker keeps a keep-alive connection that sends no request; each request it still gets is answered with Connection: close (0: close idle connections at once, and no preload in Node workers)")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", cluster.DefaultReadyTimeout, "how long (`DURATION`) a new worker may take to become ready before it is killed")
	o.addControlFlags(fs)
	fs.StringVarP(&o.Config, "config", "c", "", "read settings from a YAML `FILE` (same keys as the flags; flags win)")
	fs.StringVar(&o.LogFormat, "log-format", "text", "`FORMAT` of herd's log and of worker output: text or json")
	o.opsOptions.addFlags(fs)
	fs.StringArrayVar(&o.Env, "env", nil, "add `KEY=VALUE` to the workers' environment (repeatable)")
	fs.StringVar(&o.EnvFile, "env-file", "", "add the KEY=VALUE lines of `FILE` to the workers' environment (# comments, blank lines, export KEY=VALUE, quoted values)")
	fs.StringVar(&o.Cwd, "cwd", "", "start the workers in `DIR` (default: herd's working directory)")
	fs.BoolVar(&o.LogTime, "log-time", false, "start each line of worker output with its time (RFC 3339, milliseconds), in text format")
	fs.StringVar(&o.Procfile, "procfile", "", "run each entry of the Procfile at `PATH` as a program, one worker each (see --formation), PORT set as foreman does")
	fs.StringVar(&o.Formation, "formation", "", "with --procfile: the workers of each program, `NAME=N,...` (all=N for every one; 0: not run)")
	o.watchOptions.addFlags(fs)
	fs.StringVar(&o.State, "state", "", "the shared state store `URL` for the workers' package state, as "+envStateURL+": embedded:// (held by herd, the default) or redis://HOST:PORT/DB")
}

// addControlFlags registers --control and --name, which every command has.
func (o *runOptions) addControlFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Control, "control", "", "the control socket `PATH` (default: $XDG_RUNTIME_DIR/herd/NAME.sock or /tmp/herd-UID/NAME.sock)")
	fs.StringVar(&o.Name, "name", "", "the herd's `NAME`, for its control socket (default: the only herd running; herd run: the config's name, else the program's, as app for node app.js)")
}

// controlPath is the control socket to use: --control, else --name's,
// else that of the only herd running.
func (o *runOptions) controlPath() (string, error) {
	if o.Control != "" {
		return o.Control, nil
	}
	if o.Name == "" {
		return onlyHerd()
	}
	if err := control.CheckName(o.Name); err != nil {
		return "", usagef("--name: %w", err)
	}
	return control.DefaultPath(o.Name), nil
}

// validate checks the settings of a one-program herd.
func (o *runOptions) validate() error {
	if err := o.validateHerd(); err != nil {
		return err
	}
	return o.validateProgram()
}

// validateHerd checks the settings of the whole herd.
func (o *runOptions) validateHerd() error {
	if o.LogFormat != "text" && o.LogFormat != "json" {
		return usagef("--log-format must be text or json, got %q", o.LogFormat)
	}
	if err := control.CheckName(o.Name); err != nil {
		return usagef("--name: %w", err)
	}
	return o.opsOptions.validate()
}

// validateProgram checks the settings of one program.
func (o *runOptions) validateProgram() error {
	switch {
	case o.Workers < 1:
		return usagef("--workers must be at least 1, got %d", o.Workers)
	case o.MaxWorkers < 0:
		return usagef("--max-workers must not be negative, got %d", o.MaxWorkers)
	case o.MaxSockets < 0:
		return usagef("--max-worker-sockets must not be negative, got %d", o.MaxSockets)
	case o.Workers > o.maxWorkers():
		return usagef("--workers %d is over --max-workers %d", o.Workers, o.maxWorkers())
	case o.MaxRestarts == 0 || o.MaxRestarts < -1:
		return usagef("--max-restarts must be at least 1, or -1 to never give up; got %d", o.MaxRestarts)
	case o.RestartWindow <= 0:
		return usagef("--restart-window must be positive, got %s", o.RestartWindow)
	case o.KillTimeout <= 0:
		return usagef("--kill-timeout must be positive, got %s", o.KillTimeout)
	case o.IdleGrace < 0:
		return usagef("--idle-grace must be 0 or more, got %s", o.IdleGrace)
	case o.ReadyTimeout <= 0:
		return usagef("--ready-timeout must be positive, got %s", o.ReadyTimeout)
	case len(o.Command) == 0:
		return usagef("no command to run: herd run [flags] -- COMMAND [ARG...]")
	}
	if err := o.validatePolicy(); err != nil {
		return err
	}
	if err := o.opsOptions.validate(); err != nil {
		return err
	}
	if err := o.watchOptions.validate(o.Command); err != nil {
		return err
	}
	if err := checkStateURL(o.State); err != nil {
		return err
	}
	if err := checkDir(o.Cwd); err != nil {
		return err
	}
	_, err := parseListens(o.Listen, o.Name)
	return err
}

// checkDir checks that --cwd, if set, is a directory.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usagef("--cwd %s: not a directory", dir)
	}
	return nil
}

// maxWorkers is --max-workers, or the default the machine allows.
func (o *runOptions) maxWorkers() int {
	if o.MaxWorkers > 0 {
		return o.MaxWorkers
	}
	return cluster.DefaultMaxWorkers()
}

// clusterConfig is the cluster configuration for these settings.
func (o *runOptions) clusterConfig(listens []listenAddr) cluster.Config {
	policy, _ := cluster.ParsePolicy(o.Policy)
	cfg := cluster.Config{
		Workers:          o.Workers,
		MaxWorkers:       o.MaxWorkers,
		MaxWorkerSockets: o.MaxSockets,
		Policy:           policy,
		StickyHeader:     o.StickyHeader,
		ProxyProtocol:    o.ProxyProtocol,
		MaxRestarts:      o.MaxRestarts,
		RestartWindow:    o.RestartWindow,
		KillTimeout:      o.KillTimeout,
		IdleGrace:        o.IdleGrace,
		ReadyTimeout:     o.ReadyTimeout,
		Readiness:        cluster.ReadyOnListen,
		Node:             len(o.Command) > 0 && cluster.IsNodeProgram(o.Command[0]),
	}
	if o.IdleGrace == 0 {
		cfg.IdleGrace = -1 // at once
	}
	for _, l := range listens {
		cfg.Listen = append(cfg.Listen, l.addr)
	}
	o.opsOptions.apply(&cfg)
	return cfg
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where Server serves the metrics.
const Path = "/metrics"

// liveHeap adds go_gc_heap_live_bytes, the heap marked live by the last
// GC, to the Go collector's defaults: the figure that shows a leak in the
// primary, where RSS and heap in use swing with the GC cycle.
var liveHeap = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}

// NewRegistry returns a registry of src's metrics, plus the process and
// Go runtime metrics of this process (the primary's own footprint).
func NewRegistry(src Source) *prometheus.Registry {
	return NewProgramsRegistry([]Program{{Source: src}})
}

// NewProgramsRegistry is NewRegistry for several clusters, each with its
// program label (programs have distinct names, or only one has none).
func NewProgramsRegistry(progs []Program) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for _, p := range progs {
		reg.MustRegister(NewProgramCollector(p))
	}
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(liveHeap)))
	return reg
}

// Handler serves src's metrics (NewRegistry) in Prometheus's formats,
// uncompressed: the page is small, and a compressor per scrape (some
// hundred KB each) would make the primary's memory jumpy.
func Handler(src Source) http.Handler {
	return programsHandler([]Program{{Source: src}})
}

func programsHandler(progs []Program) http.Handler {
	return promhttp.HandlerFor(NewProgramsRegistry(progs), promhttp.HandlerOpts{MaxRequestsInFlight: 4, DisableCompression: true})
}

// Server serves the metrics over HTTP at Path.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr (host:port; port 0 picks one) for src's metrics;
// Serve serves them.
func Listen(addr string, src Source) (*Server, error) {
	return ListenPrograms(addr, []Program{{Source: src}})
}

// ListenPrograms is Listen for the metrics of several clusters, each
// labelled with its program's name.
func ListenPrograms(addr string, progs []Program) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, programsHandler(progs))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "herd: metrics at %s\n", Path)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	return &Server{ln: ln, srv: srv}, nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close; it returns nil after Close.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("metrics: %w", err)
}

// Close stops serving, letting scrapes in progress finish for a moment.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	if cerr := s.ln.Close(); !errors.Is(cerr, net.ErrClosed) { // Serve closed it, unless it never ran
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

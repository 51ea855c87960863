package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
)

// errStopping answers a request that the stop of herd overtook.
var errStopping = errors.New("herd is stopping")

// Status describes the herd, for the control socket.
func (h *herd) Status() (*control.Status, error) {
	cs, err := h.p.Stats()
	if err != nil {
		return nil, errStopping
	}
	st := &control.Status{Name: h.opts.Name, Pid: os.Getpid(), Command: h.opts.Command, Policy: h.opts.Policy,
		Listen: h.boundAddrs(), Started: h.started, Workers: []control.Worker{},
		Desired: cs.Desired, LogFile: h.logPath, Metrics: h.metricsAddr()}
	st.Goroutines, st.FDs = selfCounts()
	now := time.Now()
	for _, w := range cs.Workers {
		ps, _ := procstat.Read(w.Pid)
		st.Workers = append(st.Workers, control.Worker{ID: w.ID, Pid: w.Pid, State: string(w.State),
			Restarts: w.Restarts, Started: w.Started, Uptime: now.Sub(w.Started).Seconds(), RSS: ps.RSS,
			CPU: ps.CPU.Seconds(), Handed: w.Handed, Suspect: w.Suspected})
		if h.opts.Policy == "leastconn" { // only then do workers report closed connections
			st.Workers[len(st.Workers)-1].Conns = w.Conns
		}
	}
	return st, nil
}

// Reload rolls a reload and waits for it to end.
func (h *herd) Reload() error {
	c := make(chan error, 1)
	h.mu.Lock()
	h.reloads = append(h.reloads, c)
	h.mu.Unlock()
	if err := h.p.Reload(); err != nil {
		return errStopping
	}
	select {
	case err := <-c:
		return err
	case <-h.p.Done():
		return errStopping
	}
}

// Scale sets the number of workers.
func (h *herd) Scale(n int) error {
	if err := h.p.Scale(n); err != nil {
		if errors.Is(err, cluster.ErrStopped) {
			return errStopping
		}
		if errors.Is(err, cluster.ErrTooManyWorkers) {
			return fmt.Errorf("%w (herd run --max-workers)", err)
		}
		return err
	}
	return nil
}

// Stop stops the herd gracefully and waits until it has.
func (h *herd) Stop() error {
	h.p.Stop()
	<-h.p.Done()
	return nil
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
	"github.com/herdhq/herd/internal/procstat"
)

// errStopping answers a request that the stop of herd overtook.
var errStopping = errors.New("herd is stopping")

// Status describes the herd, or only its program name, for the control
// socket. The top-level fields are the whole herd's (Command and Policy:
// its first program's).
func (h *herd) Status(name string) (*control.Status, error) {
	progs, err := h.selectPrograms(name)
	if err != nil {
		return nil, err
	}
	first := &progs[0].opts
	st := &control.Status{Name: h.opts.Name, Pid: os.Getpid(), Command: first.Command, Policy: first.Policy,
		Listen: []string{}, Started: h.started, Workers: []control.Worker{}, LogFile: h.logPath,
		Metrics: h.metricsAddr()}
	for _, pr := range progs {
		ps, err := pr.status()
		if err != nil {
			return nil, err
		}
		st.Programs = append(st.Programs, ps)
		st.Workers = append(st.Workers, ps.Workers...)
		st.Listen = append(st.Listen, ps.Listen...)
		st.Desired += ps.Desired
	}
	st.Goroutines, st.FDs = selfCounts()
	return st, nil
}

// status describes one program.
func (pr *program) status() (control.Program, error) {
	cs, err := pr.p.Stats()
	if err != nil {
		return control.Program{}, errStopping
	}
	ps := control.Program{Name: pr.name, Command: pr.opts.Command, Policy: pr.opts.Policy,
		Listen: pr.boundAddrs(), Desired: cs.Desired, Workers: []control.Worker{}}
	if ps.Listen == nil {
		ps.Listen = []string{}
	}
	now := time.Now()
	for _, w := range cs.Workers {
		st, _ := procstat.Read(w.Pid)
		cw := control.Worker{Program: pr.name, ID: w.ID, Pid: w.Pid, State: string(w.State), Restarts: w.Restarts,
			Started: w.Started, Uptime: now.Sub(w.Started).Seconds(), RSS: st.RSS, CPU: st.CPU.Seconds(),
			Handed: w.Handed, Suspect: w.Suspected}
		if pr.opts.Policy == "leastconn" { // only then do workers report closed connections
			cw.Conns = w.Conns
		}
		ps.Workers = append(ps.Workers, cw)
	}
	return ps, nil
}

// selectPrograms returns the program called name, or every program for "".
func (h *herd) selectPrograms(name string) ([]*program, error) {
	if name == "" {
		return h.progs, nil
	}
	for _, pr := range h.progs {
		if pr.name == name {
			return []*program{pr}, nil
		}
	}
	return nil, control.BadRequest(fmt.Errorf("no program %q in herd %q (it runs %s)", name, h.opts.Name, h.programNames()))
}

// programNames lists the programs, for messages.
func (h *herd) programNames() string {
	names := make([]string, len(h.progs))
	for i, pr := range h.progs {
		names[i] = pr.name
	}
	return strings.Join(names, ", ")
}

// Reload rolls a reload of the program called name (every program, side
// by side, for "") and waits for it to end.
func (h *herd) Reload(name string) error {
	progs, err := h.selectPrograms(name)
	if err != nil {
		return err
	}
	errs := make(chan error, len(progs))
	for _, pr := range progs {
		go func() { errs <- nameProgram(pr.reload(), pr.name, len(h.progs)) }()
	}
	var all []error
	for range progs {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// reload rolls a reload of the program and waits for it to end.
func (pr *program) reload() error {
	c := make(chan error, 1)
	pr.mu.Lock()
	pr.reloads = append(pr.reloads, c)
	pr.mu.Unlock()
	if err := pr.p.Reload(); err != nil {
		return errStopping
	}
	select {
	case err := <-c:
		return err
	case <-pr.p.Done():
		return errStopping
	}
}

// Scale sets the number of workers of the program called name ("": the
// only one).
func (h *herd) Scale(name string, n int) error {
	if name == "" && len(h.progs) > 1 {
		return control.BadRequest(fmt.Errorf("herd %q runs several programs (%s): say which, as herd scale PROGRAM N", h.opts.Name, h.programNames()))
	}
	progs, err := h.selectPrograms(name)
	if err != nil {
		return err
	}
	if err := progs[0].p.Scale(n); err != nil {
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
	h.stopAll()
	for _, pr := range h.progs {
		<-pr.p.Done()
	}
	return nil
}

package cli

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/control"
)

// errStopping answers a request that the stop of herd overtook.
var errStopping = errors.New("herd is stopping")

// Status describes the herd, for the control socket.
func (h *herd) Status() (*control.Status, error) {
	ws, err := h.p.Workers()
	if err != nil {
		return nil, errStopping
	}
	st := &control.Status{Name: h.opts.Name, Pid: os.Getpid(), Command: h.opts.Command, Policy: h.opts.Policy,
		Listen: h.boundAddrs(), Started: h.started, Workers: []control.Worker{}}
	now := time.Now()
	for _, w := range ws {
		st.Workers = append(st.Workers, control.Worker{ID: w.ID, Pid: w.Pid, State: string(w.State),
			Restarts: w.Restarts, Started: w.Started, Uptime: now.Sub(w.Started).Seconds(), RSS: rssOf(w.Pid)})
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

// rssOf is a process's resident memory in bytes, or 0 when unknown.
func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

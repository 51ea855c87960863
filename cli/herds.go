package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/herdhq/herd/control"
)

// probeTimeout bounds the wait for one herd's status in herd ls, and
// when a command looks for the only running herd.
const probeTimeout = 2 * time.Second

// herdEntry is a control socket found in this user's socket directory,
// and what its herd answered.
type herdEntry struct {
	name, path string
	status     *control.Status // nil when it did not answer
	err        error
}

// findHerds asks every control socket in control.DefaultDir for its
// herd's status, side by side, each within probeTimeout.
func findHerds(ctx context.Context) ([]herdEntry, error) {
	names, err := control.Names()
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	out := make([]herdEntry, len(names))
	done := make(chan struct{}, len(names))
	for i, name := range names {
		out[i] = herdEntry{name: name, path: control.DefaultPath(name)}
		go func(e *herdEntry) {
			defer func() { done <- struct{}{} }()
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			resp, err := control.Call(ctx, e.path, control.Request{Cmd: control.CmdStatus})
			if err == nil && resp.Status == nil {
				err = errors.New("empty answer")
			}
			if e.err = err; err == nil {
				e.status = resp.Status
			}
		}(&out[i])
	}
	for range names {
		<-done
	}
	return out, nil
}

// onlyHerd is the control socket of the only herd running, for commands
// given no --name or --control.
func onlyHerd() (string, error) {
	herds, err := findHerds(context.Background())
	if err != nil {
		return "", err
	}
	var live []string
	for _, e := range herds {
		if e.status != nil {
			live = append(live, e.name)
		}
	}
	switch len(live) {
	case 0:
		return "", withCode(ExitError, fmt.Errorf("no herd is running: no control socket answers in %s (start one with herd run, or give --name or --control)",
			control.DefaultDir()))
	case 1:
		return filepath.Join(control.DefaultDir(), live[0]+".sock"), nil
	}
	return "", withCode(ExitError, fmt.Errorf("%d herds are running (%s): say which with --name NAME",
		len(live), strings.Join(live, ", ")))
}

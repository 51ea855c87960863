package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Call when no herd serves the socket.
var ErrNotRunning = errors.New("control: no herd is running there")

// busyRetry bounds how long Call retries a herd that answers busy.
const busyRetry = 30 * time.Second

// Call sends req to the herd at path and returns its answer; a refusal
// or a failed command is an error. Reload and stop are answered when
// done, so ctx bounds the wait. A herd busy with MaxConns connections
// has not read the request: Call sends it again, for up to 30 s.
func Call(ctx context.Context, path string, req Request) (*Response, error) {
	deadline := time.Now().Add(busyRetry)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		resp, err := call(ctx, path, req)
		if resp == nil || !resp.Busy || time.Now().After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, err
		case <-time.After(wait):
		}
	}
}

// call sends req once.
func call(ctx context.Context, path string, req Request) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, dialError(path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	_, werr := c.Write(append(b, '\n'))
	// A refusal comes before herd reads the request: read it even when
	// the request could not be sent.
	line, err := readLine(bufio.NewReader(c), maxResponse)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("control: %s: %w", path, ctx.Err())
	case err != nil && werr != nil:
		return nil, fmt.Errorf("control: send to %s: %w", path, werr)
	case err != nil:
		return nil, fmt.Errorf("control: no answer from %s: %w", path, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("control: bad answer from %s: %w", path, err)
	}
	if !resp.OK && resp.BadRequest {
		return &resp, BadRequest(errors.New(resp.Error))
	}
	if !resp.OK {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

func dialError(path string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %s (start one with herd run, or give --name or --control)", ErrNotRunning, path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("control: permission denied: %s belongs to another user", path)
	}
	return fmt.Errorf("control: %w", err)
}

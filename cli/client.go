package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/herdhq/herd/control"
	"github.com/spf13/cobra"
)

// call sends one request to the herd named by o.
func call(ctx context.Context, o *runOptions, req control.Request) (*control.Response, error) {
	path, err := o.controlPath()
	if err != nil {
		return nil, err
	}
	resp, err := control.Call(ctx, path, req)
	if errors.Is(err, control.ErrBadRequest) {
		return nil, withCode(ExitUsage, err)
	}
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return resp, nil
}

// clientCmd is a command that sends req and prints nothing on success.
// Its --timeout bounds the wait for herd's answer.
func clientCmd(use, short string, args cobra.PositionalArgs, req func([]string) (control.Request, error)) *cobra.Command {
	o := &runOptions{}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := req(args)
			if err != nil {
				return err
			}
			return callWithin(cmd.Context(), o, r, timeout)
		},
	}
	o.addControlFlags(cmd.Flags())
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up waiting for herd's answer after `DURATION`, with exit status 1 (0: wait until it comes)")
	return cmd
}

// callWithin is call, bounded by timeout when it is positive.
func callWithin(ctx context.Context, o *runOptions, req control.Request, timeout time.Duration) error {
	if timeout <= 0 {
		_, err := call(ctx, o, req)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := call(ctx, o, req)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return withCode(ExitError, fmt.Errorf("%s: no answer from herd within --timeout %s (it may still be at work)", req.Cmd, timeout))
	}
	return err
}

func newReloadCmd() *cobra.Command {
	return clientCmd("reload [PROGRAM]", "Replace every worker (of PROGRAM only, if given), one at a time, without dropping a request (waits until done)",
		cobra.MaximumNArgs(1), func(args []string) (control.Request, error) {
			return control.Request{Cmd: control.CmdReload, Program: programArg(args)}, nil
		})
}

// programArg is the optional PROGRAM argument: "" when absent.
func programArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func newStopCmd() *cobra.Command {
	return clientCmd("stop", "Stop the herd gracefully (waits until it has stopped)", cobra.NoArgs,
		func([]string) (control.Request, error) { return control.Request{Cmd: control.CmdStop}, nil })
}

func newScaleCmd() *cobra.Command {
	return clientCmd("scale [PROGRAM] N", "Set the number of workers (of PROGRAM: needed when the herd runs several) to N", cobra.RangeArgs(1, 2),
		func(args []string) (control.Request, error) {
			last := args[len(args)-1]
			n, err := strconv.Atoi(last)
			if err != nil || n < 1 {
				return control.Request{}, usagef("scale: want a number of workers of at least 1, got %q", last)
			}
			return control.Request{Cmd: control.CmdScale, N: n, Program: programArg(args[:len(args)-1])}, nil
		})
}

package cli

import (
	"context"
	"strconv"

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
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return resp, nil
}

// clientCmd is a command that sends req and prints nothing on success.
func clientCmd(use, short string, args cobra.PositionalArgs, req func([]string) (control.Request, error)) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := req(args)
			if err != nil {
				return err
			}
			_, err = call(cmd.Context(), o, r)
			return err
		},
	}
	o.addControlFlags(cmd.Flags())
	return cmd
}

func newReloadCmd() *cobra.Command {
	return clientCmd("reload", "Replace every worker, one at a time, without dropping a request (waits until done)", cobra.NoArgs,
		func([]string) (control.Request, error) { return control.Request{Cmd: control.CmdReload}, nil })
}

func newStopCmd() *cobra.Command {
	return clientCmd("stop", "Stop the herd gracefully (waits until it has stopped)", cobra.NoArgs,
		func([]string) (control.Request, error) { return control.Request{Cmd: control.CmdStop}, nil })
}

func newScaleCmd() *cobra.Command {
	return clientCmd("scale N", "Set the number of workers to N", cobra.ExactArgs(1),
		func(args []string) (control.Request, error) {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return control.Request{}, usagef("scale: want a number of workers of at least 1, got %q", args[0])
			}
			return control.Request{Cmd: control.CmdScale, N: n}, nil
		})
}

package cli

import (
	"errors"
	"fmt"
)

// herd's exit statuses, documented in the README and in herd run --help.
const (
	ExitOK     = 0 // a graceful stop
	ExitError  = 1 // anything else: a failed start, no herd to steer
	ExitUsage  = 2 // a bad flag, argument or config file
	ExitBind   = 3 // a --listen address or the control socket could not be bound
	ExitGaveUp = 4 // workers exited more than --max-restarts times in --restart-window
	ExitForced = 5 // stopped by force: a second SIGTERM or SIGINT killed the workers
)

// exitCodesHelp is the table shown by herd run --help.
const exitCodesHelp = `Exit status:
  0  stopped gracefully (herd stop, SIGTERM, SIGINT)
  1  failed for another reason (a worker could not be started, ...)
  2  a bad flag, argument or config file (the message names it)
  3  a --listen address or the control socket could not be bound
  4  gave up: workers exited more than --max-restarts times within --restart-window
  5  stopped by force: a second SIGTERM or SIGINT while stopping killed the workers`

// exitError is an error with the status herd exits with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return "herd: " + e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err with an exit status; nil stays nil.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usagef is a usage error (ExitUsage) with a formatted message.
func usagef(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// codeOf is the exit status for err. Errors that carry none come from
// parsing the command line, before any command ran: usage errors.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

package cli

import "github.com/herdhq/herd/internal/sysport"

// closeInheritedOnExec marks every descriptor above stderr close-on-exec,
// so that what herd itself inherited (from a shell, a supervisor) does not
// leak into its workers: they get stdio, the --listen sockets and their
// channel, nothing else.
func closeInheritedOnExec() { sysport.CloexecFrom(3) }

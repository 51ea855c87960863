// Package proc starts a child process with an IPC channel, in the shape
// of os/exec.
//
// The child's end of an AF_UNIX socket pair is passed as an extra file and
// its number is put in NODE_CHANNEL_FD (with
// NODE_CHANNEL_SERIALIZATION_MODE=json), exactly as Node's
// child_process.fork does, so a Go child (ipc.Inherited) and an unmodified
// Node.js child (process.send, process.on('message')) both find it.
//
// A child learns that its parent is gone in two ways: its channel reads
// end of file (a Node child with a 'message' listener then exits, a herd
// cluster worker exits), and, if Cmd.Pdeathsig is set, the kernel sends it
// that signal when the parent dies, even by SIGKILL. A child that ignores
// both (a plain program holding no channel) outlives its parent: set
// Pdeathsig for those. Only Linux has Pdeathsig (elsewhere it is
// ignored): there the channel is the only way, and a parent that must
// not leave such children behind kills their process group itself
// (herd's watchdog does).
package proc

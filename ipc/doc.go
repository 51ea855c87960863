// Package ipc is a message channel between a parent and a child process,
// wire-compatible with Node.js's `json` IPC serialization.
//
// A Channel runs over one end of an AF_UNIX/SOCK_STREAM socket pair. Each
// message is one JSON text followed by "\n". A message may carry a handle (a
// listening socket, a connection or a UDP socket): the handle's file
// descriptor travels as SCM_RIGHTS ancillary data on the same sendmsg as a
// {"cmd":"NODE_HANDLE",...} envelope, the receiver answers NODE_HANDLE_ACK
// (or NODE_HANDLE_NACK), and the sender holds every later message until
// that answer so order is kept. This is what Node's child_process does, so
// a Go process and an unmodified Node.js process talk natively.
//
// Messages whose "cmd" is a string starting with "NODE_" are internal: they
// never come out of Recv. Handle envelopes are unwrapped; other internal
// messages go to Options.Internal, which is how herd's cluster and state
// packages speak their own protocols over the same channel.
//
// The channel is closed with a typed error on bad input (a malformed line,
// a blank line, a line over the size limit, a file descriptor without an
// envelope or an envelope without one); it never panics and closes every
// file descriptor it received but did not hand over.
//
// Sends queue and return: by default a send waits only while more than
// 4 MiB wait for a peer that is trusted to read. Options.MaxQueue bounds
// the queue instead, for a process that must never wait on a peer (herd's
// primary): a send past it fails at once with ErrQueueFull and closes the
// channel.
//
// A child started by herd's proc package (or by Node's child_process.fork)
// finds its channel with Inherited.
package ipc

// Package cluster runs a Go program as a primary and a set of worker
// processes that share listening ports, as Node's cluster module does.
//
// The same binary plays both parts. In the primary, Run forks the workers
// (by default the running executable with the same arguments), supervises
// them and balances connections; in a worker, Listen and ListenPacket ask
// the primary for the socket, and outside a cluster they behave exactly as
// net.Listen and net.ListenPacket, so the program also runs alone:
//
//	func main() {
//		if cluster.IsPrimary() {
//			log.Fatal(cluster.Run(context.Background(), cluster.Config{}))
//		}
//		l, err := cluster.Listen("tcp", "127.0.0.1:8080")
//		if err != nil {
//			log.Fatal(err)
//		}
//		log.Fatal(cluster.Serve(&http.Server{Handler: h}, l))
//	}
//
// Scheduling (Config.Policy): RoundRobin, the default, has the primary
// accept and hand each connection to the next ready worker; LeastConn
// picks the worker with the fewest open connections; Sticky sends each
// client (its address, Config.StickyHeader, or its PROXY protocol address)
// to the worker of the slot that rendezvous hashing picks, so that
// session-bound protocols (socket.io's long-polling) work; Shared gives every
// worker the same listening socket and lets the kernel pick; ReusePort
// gives each worker a socket of its own in one SO_REUSEPORT group
// (SO_REUSEPORT_LB on FreeBSD; on macOS, whose kernel does not balance a
// group, Run uses Shared instead and logs a warning). UDP is always
// shared.
//
// Supervision: a worker that exits unexpectedly is replaced, with a
// capped exponential backoff; more than MaxRestarts restarts within
// RestartWindow makes Run give up with ErrGaveUp. SIGTERM and SIGINT stop
// the cluster gracefully (a second one kills the workers, and Run returns
// ErrForced), SIGHUP rolls a zero-downtime reload, SIGTTIN and
// SIGTTOU add and remove a worker. Workers never outlive the primary: their
// channel closes (a worker of this package exits then), and on Linux the
// kernel sends them SIGKILL (Pdeathsig), which macOS and FreeBSD lack.
//
// The primary never waits on a worker: a worker that sends a message
// longer than Config.MaxMessage, or leaves more than Config.MaxQueue of
// the primary's messages unread, is killed and replaced.
//
// A Go program that is its own primary can replace itself (a new
// release) without closing a port, in cloudflare/tableflip's model: the
// running primary passes Primary.Sockets to a new process of the new
// program (by descriptor, with their keys in the environment), which puts
// them in Config.Inherited and so binds nothing it inherited; once the new
// primary's workers are ready, the old one calls HandOver (stop accepting,
// drain, return from Run) and the new one TakeOver. The embedded store
// goes along too: the old primary's SaveState writes a snapshot that the
// new one's StateConfig.Restore loads before its workers start. Starting the process
// and the readiness handshake are the program's (herd upgrade does it in
// package cli; inherit.go says what each side does).
//
// The primary and its workers talk over the ipc channel that proc sets up;
// herd's own messages use cmd "NODE_HERD", which Node also treats as
// internal. docs/protocol.md describes them.
package cluster

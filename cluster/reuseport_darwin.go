package cluster

import "golang.org/x/sys/unix"

// reusePortOpt is the socket option of a group's sockets. macOS accepts
// SO_REUSEPORT but gives every connection to one socket of the group, so
// checkReusePort never lets ReusePort reach a socket.
const reusePortOpt = unix.SO_REUSEPORT

// reusePortBalances says that the kernel does not spread a group's
// connections: ReusePort falls back to Shared.
const reusePortBalances = false

// enableMigration does nothing: ReusePort is never used here.
func enableMigration() error { return nil }

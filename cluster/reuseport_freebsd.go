package cluster

import (
	"errors"

	"golang.org/x/sys/unix"
)

// reusePortOpt is the socket option that puts a socket in a balanced
// group: FreeBSD's SO_REUSEPORT only lets sockets share a port, its
// SO_REUSEPORT_LB balances them.
const reusePortOpt = unix.SO_REUSEPORT_LB

// reusePortBalances says that the kernel spreads a group's connections.
const reusePortBalances = true

// enableMigration reports that FreeBSD does not move the connections
// queued on a closing socket of a group to another one.
func enableMigration() error {
	return errors.New("cluster: reuseport: FreeBSD does not migrate a closing socket's queue (queued connections of a stopping worker may be reset)")
}

package cluster

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// reusePortOpt is the socket option that puts a socket in a balanced
// group: SO_REUSEPORT, which Linux balances by hash.
const reusePortOpt = unix.SO_REUSEPORT

// reusePortBalances says that the kernel spreads a group's connections.
const reusePortBalances = true

// enableMigration asks Linux to move connections queued on a closing
// SO_REUSEPORT socket to another socket of its group, so that a worker
// leaving during a reload drops nothing. It needs root; the error says
// why not.
func enableMigration() error {
	const path = "/proc/sys/net/ipv4/tcp_migrate_req"
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("cluster: cannot enable %s (queued connections of a stopping worker may be reset): %w", path, err)
	}
	return nil
}

package cluster

import "runtime"

// checkReusePort adapts the ReusePort policy to the kernel: where it does
// not balance a group (reusePortBalances false: macOS hands every
// connection to one socket), the policy falls back to Shared with a
// warning; elsewhere it asks for the migration of a closing socket's
// queue (enableMigration), and warns when it cannot have it. Run calls it
// before any socket is bound.
func (p *Primary) checkReusePort() {
	if p.cfg.Policy != ReusePort {
		return
	}
	if !reusePortBalances {
		p.cfg.Logger.Warn("cluster: reuseport: " + runtime.GOOS + " does not balance connections over a SO_REUSEPORT group; using shared")
		p.cfg.Policy = Shared
		return
	}
	if err := enableMigration(); err != nil {
		p.cfg.Logger.Warn(err.Error())
	}
}

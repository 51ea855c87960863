package ipc

// Queued returns how many bytes wait to be written to the peer: what
// Options.MaxQueue bounds. A sender that must not push a slow peer over
// that bound (and so have the channel closed) checks it first.
func (c *Channel) Queued() int {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.queuedLocked()
}

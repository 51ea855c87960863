package cluster

import (
	"os"
	"time"
)

// heartbeatFromEnv reads how often to send heartbeats (EnvHeartbeat),
// and removes it from the environment; 0 means never.
func heartbeatFromEnv() time.Duration {
	v, ok := os.LookupEnv(EnvHeartbeat)
	if !ok {
		return 0
	}
	os.Unsetenv(EnvHeartbeat)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// heartbeat tells the primary that this worker is alive, now and then
// every period, from a goroutine of its own, until the channel closes. A
// worker whose heartbeats stop (the process is stopped, its runtime
// starved or wedged) is taken for hung; see Config.HeartbeatTimeout.
func (w *worker) heartbeat(every time.Duration) {
	beat := newMsg(actHeartbeat)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if w.ch.Send(beat) != nil {
			return
		}
		select {
		case <-w.ch.Done():
			return
		case <-t.C:
		}
	}
}

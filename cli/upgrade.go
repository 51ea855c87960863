package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// herd upgrade (or SIGUSR2) replaces a running herd with a new one
// without closing a port, as nginx's binary upgrade and tableflip do:
//
//  1. The old herd starts its executable again (the path it was started
//     from, so a replaced binary is the one that runs) with its own
//     arguments and environment (so a changed config file takes effect),
//     passing the control socket and every socket its programs hold,
//     named in HERD_UPGRADE (upgrade_heir.go), and a socket pair, the
//     link.
//  2. The new herd takes the sockets instead of binding, starts its
//     workers, and says "ready" on the link once every program is up.
//     Meanwhile both herds serve: the old one's workers take connections
//     until it hands over.
//  3. The old herd says "go"; the new one serves the control socket,
//     tells systemd MAINPID= and READY=1, and says "main".
//  4. The old herd stops serving the control socket, closes the link and
//     drains its workers as a stop does, leaving the sockets' files to
//     the new herd; it exits 0 once they are gone. The new herd, at the
//     link's end, owns what it inherited.
//
// If the new herd exits, or is not ready within the timeout, the old
// herd stops it (SIGTERM; SIGKILL after the kill timeout) and serves on;
// the new herd removes none of the files it was lent.

// upgradeMargin is added to the largest --ready-timeout for the default
// bound of an upgrade: the new herd's own start.
const upgradeMargin = 10 * time.Second

// errUpgrading refuses an upgrade while one is under way.
var errUpgrading = errors.New("upgrade: an upgrade is already under way")

// Upgrade replaces this herd with a new one (see above) and returns the
// new herd's pid; timeout bounds the wait for it to be ready (0: the
// largest --ready-timeout plus upgradeMargin). On error this herd serves
// on.
func (h *herd) Upgrade(timeout time.Duration) (int, error) {
	if !h.upgrading.CompareAndSwap(false, true) {
		return 0, errUpgrading
	}
	if timeout <= 0 {
		timeout = h.maxReadyTimeout() + upgradeMargin
	}
	h.log.Info("upgrade", "exe", h.exe, "timeout", timeout)
	s, err := h.startSuccessor()
	if err == nil {
		err = h.handOver(s, timeout)
	}
	if err != nil {
		h.upgrading.Store(false)
		h.log.Error("upgrade failed: this herd serves on", "err", err)
		return 0, fmt.Errorf("upgrade failed (this herd serves on): %w", err)
	}
	h.log.Info("upgraded: the new herd serves, this one drains", "pid", s.pid)
	return s.pid, nil
}

// handOver waits for the new herd to be ready and hands over to it, or
// stops it.
func (h *herd) handOver(s *successor, timeout time.Duration) error {
	err := s.await("ready", timeout)
	if err == nil {
		err = s.say("go")
	}
	if err == nil {
		err = s.await("main", upgradeMargin)
	}
	if err != nil {
		s.stop(h.maxKillTimeout()+upgradeMargin, h.log)
		os.Remove(h.notifyPath(s.pid))
		sdNotify("MAINPID=" + strconv.Itoa(os.Getpid())) // in case the new herd said its own
		return err
	}
	h.main.Store(false) // systemd follows the new herd: say nothing more
	h.ctl.Detach()
	s.link.Close()
	for _, pr := range h.progs {
		go pr.p.HandOver()
	}
	return nil
}

// maxReadyTimeout is the largest --ready-timeout of the programs.
func (h *herd) maxReadyTimeout() time.Duration {
	var d time.Duration
	for _, pr := range h.progs {
		d = max(d, pr.opts.ReadyTimeout)
	}
	return d
}

// maxKillTimeout is the largest --kill-timeout of the programs.
func (h *herd) maxKillTimeout() time.Duration {
	var d time.Duration
	for _, pr := range h.progs {
		d = max(d, pr.opts.KillTimeout)
	}
	return d
}

// upgradeOnSignal upgrades on each SIGUSR2 until done is closed.
func (h *herd) upgradeOnSignal(done <-chan struct{}) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	defer signal.Stop(c)
	for {
		select {
		case <-c:
			go h.Upgrade(0) // it logs its outcome
		case <-done:
			return
		}
	}
}

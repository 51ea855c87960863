package main_test

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"golang.org/x/sys/unix"
)

// notifyMsg is a message on NOTIFY_SOCKET and the pid that sent it.
type notifyMsg struct {
	text string
	pid  int
}

// listenNotifyCreds is listenNotify with SO_PASSCRED: each message comes
// with its sender's pid, as systemd checks it.
func listenNotifyCreds(t *testing.T) *net.UnixConn {
	t.Helper()
	c := listenNotify(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nextNotify waits for the next message on c that mentions want.
func nextNotify(t *testing.T, c *net.UnixConn, want string) notifyMsg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(liveness))
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("no %q on NOTIFY_SOCKET: %v", want, err)
		}
		if m := (notifyMsg{text: string(buf[:n]), pid: senderPid(oob[:oobn])}); strings.Contains(m.text, want) {
			return m
		}
	}
}

// senderPid is the pid in a message's credentials; 0: none.
func senderPid(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) == 0 {
		return 0
	}
	cred, err := unix.ParseUnixCredentials(&msgs[0])
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}

// TestUpgradeTellsSystemd: under systemd's NOTIFY_SOCKET, the first herd
// says READY=1, and the new herd of an upgrade says MAINPID=<its pid> and
// READY=1, from its own pid (SO_PASSCRED). herd status --json then shows
// herd's version and the new herd's start time.
func TestUpgradeTellsSystemd(t *testing.T) {
	testutil.CheckFDs(t)
	c := listenNotifyCreds(t)
	env := append(goWorkerEnv(), "NOTIFY_SOCKET="+c.LocalAddr().String())
	h := startHerd(t, env, "-n", "1", "-l", "127.0.0.1:0", "--", testBinary(t))
	stopUpgraded(t, h)
	first := h.waitWorkers(1)
	if m := nextNotify(t, c, "READY=1"); m.pid != first.Pid {
		t.Fatalf("READY=1 came from pid %d, not the herd's %d: %q", m.pid, first.Pid, m.text)
	}
	upgradeStart := time.Now()
	after := upgradeHerd(t, h, 1)
	m := nextNotify(t, c, "MAINPID=")
	if !strings.Contains(m.text, "MAINPID="+strconv.Itoa(after.Pid)+"\n") || !strings.Contains(m.text, "READY=1") {
		t.Fatalf("the new herd (pid %d) said %q, want MAINPID=%d and READY=1", after.Pid, m.text, after.Pid)
	}
	if m.pid != after.Pid {
		t.Fatalf("MAINPID= came from pid %d, not the new herd's %d", m.pid, after.Pid)
	}
	checkUpgradedStatus(t, h, first.Started, upgradeStart)
}

// checkUpgradedStatus checks herd status --json after an upgrade that
// began at upgradeStart: a version, and the new herd's start time.
func checkUpgradedStatus(t *testing.T, h *herdRun, firstStarted, upgradeStart time.Time) {
	t.Helper()
	out, errOut, code := h.herdCtl("status", "--json")
	if code != 0 {
		t.Fatalf("herd status --json: exit %d: %s", code, errOut)
	}
	var st struct {
		Version string    `json:"version"`
		Started time.Time `json:"started"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("herd status --json: %v\n%s", err, out)
	}
	if st.Version == "" || st.Started.Before(upgradeStart.Add(-time.Second)) || st.Started.Equal(firstStarted) {
		t.Fatalf("status after the upgrade (begun at %s; first herd started %s): version %q, started %s",
			upgradeStart, firstStarted, st.Version, st.Started)
	}
}

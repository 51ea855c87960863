package main_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// TestControlRefusesOtherUser: the control socket is 0600 in a private
// directory, and even when both are opened up, herd refuses a client of
// another uid (SO_PEERCRED).
func TestControlRefusesOtherUser(t *testing.T) {
	testutil.CheckFDs(t)
	if os.Getuid() != 0 {
		t.Skip("needs root, to run a client as nobody")
	}
	nobody := lookupNobody(t)
	h := startHerd(t, nil, "-n", "1", "--", "sleep", "1000")
	h.waitWorkers(1)
	if fi, err := os.Stat(h.ctl); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v, want 0600", fi.Mode(), err)
	}
	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	_, errOut, code := runHerdCmd(t, asNobody, "status", "--control", h.ctl)
	if code != 1 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("nobody's status through the private directory: exit %d, %q; want 1 and permission denied", code, errOut)
	}
	for _, p := range []string{filepath.Dir(filepath.Dir(h.ctl)), filepath.Dir(h.ctl)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(h.ctl, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"status"}, {"stop"}, {"scale", "3"}} {
		_, errOut, code = runHerdCmd(t, asNobody, append(cmd, "--control", h.ctl)...)
		want := "refused: uid " + strconv.Itoa(int(nobody))
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("nobody's %s on an open socket: exit %d, %q; want 1 and %q", cmd, code, errOut, want)
		}
	}
	if st := h.status(); len(st.Workers) != 1 {
		t.Fatalf("a refused client changed the herd: %+v", st.Workers)
	}
}

func lookupNobody(t *testing.T) uint32 {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Skipf("uid of nobody: %v", err)
	}
	return uint32(uid)
}

package proc_test

// What happens to a child when its parent is killed with SIGKILL. The
// test starts a "middle" helper, which starts a grandchild through proc
// and reports its pid; the test kills the middle and watches the
// grandchild, which is reparented (to init or a subreaper) and so cannot
// be reaped here: a zombie counts as gone.

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"golang.org/x/sys/unix"
)

// pidWatch identifies a process that is not our child: its pid and start
// time, so that a recycled pid is not mistaken for it.
type pidWatch struct {
	pid   int
	start string
}

// procStat returns the state letter and start time of pid from
// /proc/<pid>/stat.
func procStat(pid int) (state byte, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", false
	}
	f := bytes.Fields(b[i+1:]) // state is field 3 of stat, starttime field 22
	if len(f) < 20 {
		return 0, "", false
	}
	return f[0][0], string(f[19]), true
}

// watchPID starts watching pid, which must be alive, and kills it when
// the test ends if it still is.
func watchPID(t *testing.T, pid int) pidWatch {
	t.Helper()
	state, start, ok := procStat(pid)
	if !ok || state == 'Z' || state == 'X' {
		t.Fatalf("process %d is not running", pid)
	}
	w := pidWatch{pid: pid, start: start}
	t.Cleanup(func() {
		if !w.gone() {
			unix.Kill(pid, syscall.SIGKILL)
		}
	})
	return w
}

// gone reports whether the process has exited (a zombie counts).
func (w pidWatch) gone() bool {
	state, start, ok := procStat(w.pid)
	return !ok || start != w.start || state == 'Z' || state == 'X'
}

// waitGone fails the test unless the process exits in time.
func (w pidWatch) waitGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !w.gone() {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", w.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestParentKilled: when the parent dies by SIGKILL,
//   - a child started with Pdeathsig gets that signal from the kernel
//     (pdeathsig: a child that never looks at its channel and ignores
//     SIGTERM; pdeathsig-ping: one that answered a message after the
//     thread that called Start had exited, so that thread's exit did not
//     fire the signal);
//   - a Go child that exits on channel end of file exits;
//   - a Node child with a 'message' listener sees 'disconnect' and exits;
//   - a child with neither (no Pdeathsig, not watching its channel)
//     outlives its parent: a Go program that ignores its channel, or a
//     Node program with no 'message' or 'disconnect' listener (Node does
//     not let the channel alone keep it alive, nor does it watch it).
//
// The middle process always calls Start on a goroutine locked to a
// thread that exits right after.
func TestParentKilled(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		survives bool
	}{
		{"pdeathsig", false},
		{"pdeathsig-ping", false},
		{"eof", false},
		{"node", false},
		{"orphan", true},
		{"node-no-listener", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if strings.HasPrefix(tc.mode, "pdeathsig") && runtime.GOOS != "linux" {
				t.Skip("only Linux has a parent-death signal")
			}
			testParentKilled(t, tc.mode, tc.survives)
		})
	}
}

func testParentKilled(t *testing.T, mode string, survives bool) {
	testutil.CheckFDs(t)
	env := []string{"HERD_MIDDLE=" + mode}
	switch mode {
	case "node":
		env = append(env, "HERD_NODE_SCRIPT="+nodeScript(t, echoJS))
	case "node-no-listener":
		env = append(env, "HERD_NODE_SCRIPT="+nodeScript(t, busyJS))
	}
	mid := helper(t, "middle", env...)
	var r struct{ Pid int }
	recvInto(t, mid.Channel(), &r)
	gc := watchPID(t, r.Pid)
	if err := mid.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, mid)
	if !survives {
		gc.waitGone(t)
		return
	}
	time.Sleep(300 * time.Millisecond)
	if gc.gone() {
		t.Fatal("the orphan died with its parent; it should outlive it")
	}
}

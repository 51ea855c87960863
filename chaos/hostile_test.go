//go:build chaos

package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/procstat"
	"github.com/herdhq/herd/internal/testutil"
	"golang.org/x/sys/unix"
)

// The hostile modes a flood-token worker may take besides the channel
// floods (issue 12's attacks, as a worker that ignores herd's library
// would make them). Each one is bounded in count and time; a mode whose
// worker herd does not cut off ends with the worker exiting by itself.
var hostileModes = map[string]func(fd int, deadline time.Time){
	"noread":     hostileNoRead,
	"ports":      hostilePorts,
	"messages":   hostileMessages,
	"stateconns": hostileStateConns,
}

// hostileNoRead asks herd for 300 sockets at 60,000-byte addresses, each
// answered with an error that quotes it, and never reads the answers: more
// than herd may queue for a worker. herd must cut it off.
func hostileNoRead(fd int, deadline time.Time) {
	addr := strings.Repeat("x", 60000)
	for i := 1; i <= 300 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD","act":"listen","seq":%d,"network":"tcp","address":"%s"}`+"\n", i, addr)
		if !write(fd, []byte(line), deadline) {
			return
		}
	}
}

// hostilePorts asks herd to bind 3,000 ports, one after another, reading
// (and closing) what herd answers, then exits: herd must refuse past its
// bound per worker and release what it bound once the worker is gone.
func hostilePorts(fd int, deadline time.Time) {
	base := 20000 + os.Getpid()%20000
	for i := 1; i <= 3000 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD","act":"listen","seq":%d,"network":"tcp","address":"127.0.0.1:%d"}`+"\n", i, base+i%25000)
		if !write(fd, []byte(line), deadline) || !drainOne(fd, deadline) {
			return
		}
	}
	os.Exit(0)
}

// hostileMessages sends user messages as fast as it can for 8 s: herd's
// log must stay bounded and the other workers must serve as before.
func hostileMessages(fd int, deadline time.Time) {
	line := []byte(`{"chaos":"a message herd would log","n":1}` + "\n")
	batch := []byte(strings.Repeat(string(line), 64))
	go drainForever(fd)
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end) && time.Now().Before(deadline); {
		if !write(fd, batch, deadline) {
			return
		}
	}
	os.Exit(0)
}

// hostileStateConns asks for 2,000 state-store connections and keeps every
// socket it gets, then exits: herd must refuse past its bound per worker.
func hostileStateConns(fd int, deadline time.Time) {
	for i := 1; i <= 2000 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD_STATE","op":"connect","id":%d}`+"\n", i)
		if !write(fd, []byte(line), deadline) || !readOne(fd, deadline, true) {
			break
		}
	}
	os.Exit(0)
}

// drainOne reads one answer, closing any descriptor that comes with it.
func drainOne(fd int, deadline time.Time) bool { return readOne(fd, deadline, false) }

// readOne reads until a newline arrives, a byte at a time so that it never
// eats into the next answer, and acknowledges a handle as Node's peer
// does; received descriptors are closed, or kept open when keep is set.
func readOne(fd int, deadline time.Time, keep bool) bool {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*8))
	var line []byte
	for time.Now().Before(deadline) {
		if !readable(fd) {
			continue
		}
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			continue
		case err != nil || n == 0:
			return false
		}
		if !keep {
			closeRights(oob[:oobn])
		}
		if buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		if strings.HasPrefix(string(line), `{"cmd":"NODE_HANDLE",`) {
			return write(fd, []byte(`{"cmd":"NODE_HANDLE_ACK"}`+"\n"), deadline)
		}
		return true
	}
	return false
}

// readable waits up to 100 ms for fd to have something to read.
func readable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(pfd, 100)
	return n > 0
}

// drainForever reads and discards what herd sends, until the channel ends.
func drainForever(fd int) {
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(16*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil || n == 0 {
			return
		}
		closeRights(oob[:oobn])
	}
}

func closeRights(oob []byte) {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		fds, _ := unix.ParseUnixRights(&m)
		for _, f := range fds {
			unix.Close(f)
		}
	}
}

// startDaemon starts a sleeper in a session of its own (setsid), as a
// worker that daemonises a child would, and records "WORKER DAEMON" pids
// in HERD_CHAOS_DIR/daemon-WORKER.
func startDaemon(dir string) {
	c := exec.Command(os.Args[0])
	c.Env = testutil.HelperEnv("sleeper")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		os.Exit(7)
	}
	go c.Wait()
	rec := fmt.Sprintf("%d %d", os.Getpid(), c.Process.Pid)
	os.WriteFile(filepath.Join(dir, "daemon-"+strconv.Itoa(os.Getpid())), []byte(rec), 0o644)
}

// recordedChildren waits for want "WORKER CHILD" records in dir/PREFIX*
// and returns them, worker pid to child pid.
func recordedChildren(t *testing.T, dir, prefix string, want int) map[int]int {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		got := map[int]int{}
		files, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if fs := strings.Fields(string(b)); len(fs) == 2 {
				w, _ := strconv.Atoi(fs[0])
				c, _ := strconv.Atoi(fs[1])
				got[w] = c
			}
		}
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not record their children: %v", files)
		}
		time.Sleep(pollEvery)
	}
}

// waitAllGone waits up to d for every pid to be gone and returns those left.
func waitAllGone(pids []int, d time.Duration) []int {
	var left []int
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		left = slices.DeleteFunc(slices.Clone(pids), func(p int) bool { return !procstat.Alive(p) })
		if len(left) == 0 || time.Now().After(end) {
			return left
		}
	}
}

// TestChaosDaemons runs workers that each start a daemon in a session of
// its own (setsid), under load: a killed worker's daemon must die with
// it, and after SIGKILL of herd every worker and daemon must be gone.
func TestChaosDaemons(t *testing.T) {
	h := startHerd(t, "worker", []string{envGrandchild + "=setsid"}, "-n", "2", "--kill-timeout", "10s")
	h.waitWorkers(2)
	daemons := recordedChildren(t, h.dir, "daemon-", 2)
	var all []int
	t.Cleanup(func() { // the sleepers must not outlive the test, whatever happened
		for _, p := range all {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	for w, d := range daemons {
		all = append(all, w, d)
	}
	l := startLoad(h.url())
	time.Sleep(300 * time.Millisecond)
	var victim int
	for w := range daemons {
		victim = w
		break
	}
	t0 := time.Now()
	syscall.Kill(victim, syscall.SIGKILL)
	left := waitAllGone([]int{victim, daemons[victim]}, 15*time.Second)
	report(t, "SIGKILL of a worker whose daemon (setsid) sleeps: worker and daemon gone after %s (left: %v)",
		time.Since(t0).Round(time.Millisecond), left)
	if len(left) > 0 {
		t.Errorf("15 s after SIGKILL of worker %d, still running: %v (its daemon: %d)", victim, left, daemons[victim])
	}
	h.waitWorkers(2)
	for w, d := range recordedChildren(t, h.dir, "daemon-", 3) {
		all = append(all, w, d)
	}
	t1 := time.Now()
	h.cmd.Process.Kill()
	left = waitAllGone(all, 15*time.Second)
	l.finish()
	report(t, "SIGKILL of herd whose workers each started a daemon (setsid): %d processes, all gone after %s (left: %v)",
		len(all), time.Since(t1).Round(time.Millisecond), left)
	if len(left) > 0 {
		t.Errorf("15 s after SIGKILL of herd, still running: %v of %v", left, all)
	}
}

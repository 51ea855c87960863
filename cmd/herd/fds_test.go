package main_test

import (
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
)

// TestWorkerFDs: a worker gets stdio, the --listen sockets from fd 3 and
// its channel after them, and nothing that herd itself inherited.
func TestWorkerFDs(t *testing.T) {
	testutil.CheckFDs(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctl := controlPath(t)
	h := startCmdWith(t, ctl, nil, func(c *exec.Cmd) { c.ExtraFiles = []*os.File{w} }, // herd's fd 3
		"run", "--control", ctl, "-n", "1", "-l", "127.0.0.1:0", "-l", "udp://127.0.0.1:0", "--", "sleep", "1000")
	st := h.waitWorkers(1)
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(st.Workers[0].Pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		fds = append(fds, fd)
	}
	sort.Ints(fds)
	if len(fds) != 6 || fds[5] != 5 {
		t.Fatalf("worker fds %v, want 0-2, the two sockets (3, 4) and the channel (5)", fds)
	}
	for fd := 3; fd <= 4; fd++ {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(st.Workers[0].Pid) + "/fd/" + strconv.Itoa(fd))
		if len(target) < 7 || target[:7] != "socket:" {
			t.Fatalf("worker fd %d is %s, want a socket", fd, target)
		}
	}
}

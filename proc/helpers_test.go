package proc_test

// The bodies of the helper processes: the test binary re-executed with
// HERD_TEST_HELPER naming one of them (see TestMain). They report failures
// on stderr and with exit code 3.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// childFatal ends a helper process with a message and exit code 3.
func childFatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "helper: "+format+"\n", args...)
	os.Exit(3)
}

// mustInherit returns the helper's channel.
func mustInherit() *ipc.Channel {
	ch, err := ipc.Inherited(nil)
	if err != nil {
		childFatal("%v", err)
	}
	return ch
}

// helperEcho sends back every message it gets, until the channel closes.
func helperEcho() {
	ch := mustInherit()
	if os.Getenv(ipc.EnvChannelFD) != "" {
		os.Exit(4)
	}
	for m := range ch.Messages() {
		if m.Handle != nil {
			ch.SendHandle(json.RawMessage(m.Data), m.Handle)
			m.CloseHandle()
			continue
		}
		ch.Send(m.Data)
	}
	ch.Close()
}

// helperExit exits at once with the code in HERD_EXIT_CODE.
func helperExit() {
	code, err := strconv.Atoi(os.Getenv("HERD_EXIT_CODE"))
	if err != nil {
		childFatal("HERD_EXIT_CODE: %v", err)
	}
	os.Exit(code)
}

// helperHang ignores SIGTERM, answers one message (so the test knows it
// is ready), then neither reads its channel nor exits for a minute.
func helperHang() {
	signal.Ignore(syscall.SIGTERM)
	ch := mustInherit()
	if m, err := ch.Recv(); err == nil {
		ch.Send(m.Data)
	}
	time.Sleep(time.Minute)
}

// helperIdle ignores SIGTERM and its channel, and sleeps for a minute.
func helperIdle() {
	signal.Ignore(syscall.SIGTERM)
	time.Sleep(time.Minute)
}

// helperCloser closes its channel and keeps running.
func helperCloser() {
	mustInherit().Close()
	time.Sleep(time.Minute)
}

// helperRaw writes HERD_RAW straight onto the channel's socket, then
// waits for the parent to hang up.
func helperRaw() {
	f := os.NewFile(uintptr(rawChannelFD()), "channel")
	if _, err := f.WriteString(os.Getenv("HERD_RAW")); err != nil {
		childFatal("write: %v", err)
	}
	buf := make([]byte, 512)
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
	}
}

// rawChannelFD returns the channel's descriptor, for helpers that use the
// socket without ipc.
func rawChannelFD() int {
	fd, err := strconv.Atoi(os.Getenv(ipc.EnvChannelFD))
	if err != nil {
		childFatal("%s: %v", ipc.EnvChannelFD, err)
	}
	return fd
}

// helperUnread waits, without reading, until HERD_UNREAD_BYTES bytes wait
// in its channel's socket, then exits 0 leaving them unread.
func helperUnread() {
	fd := rawChannelFD()
	want, _ := strconv.Atoi(os.Getenv("HERD_UNREAD_BYTES"))
	for range 3000 {
		if n, err := unix.IoctlGetInt(fd, ioctlUnread); err != nil || n >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	childFatal("the parent's messages did not arrive")
}

// childInfo is what helperInfo reports about its start.
type childInfo struct {
	FD         string // NODE_CHANNEL_FD before ipc.Inherited
	Mode       string // NODE_CHANNEL_SERIALIZATION_MODE before ipc.Inherited
	FDAfter    string // NODE_CHANNEL_FD after ipc.Inherited
	Grandchild string // NODE_CHANNEL_FD as a process it starts sees it
	Probe      string // HERD_PROBE
	Parent     string // HERD_PARENT_ONLY
	Dir        string // working directory
}

// helperInfo reports its environment and working directory, writes to
// fd 3 when HERD_WRITE_FD3 is set, then waits for the channel to close.
func helperInfo() {
	info := childInfo{
		FD:     os.Getenv(ipc.EnvChannelFD),
		Mode:   os.Getenv(ipc.EnvSerialization),
		Probe:  os.Getenv("HERD_PROBE"),
		Parent: os.Getenv("HERD_PARENT_ONLY"),
	}
	ch := mustInherit()
	info.FDAfter = os.Getenv(ipc.EnvChannelFD)
	out, err := exec.Command("sh", "-c", `printf %s "${NODE_CHANNEL_FD-unset}"`).Output()
	if err != nil {
		childFatal("sh: %v", err)
	}
	info.Grandchild = string(out)
	info.Dir, _ = os.Getwd()
	if os.Getenv("HERD_WRITE_FD3") != "" {
		os.NewFile(3, "extra").WriteString("hello from fd 3")
	}
	ch.Send(info)
	for range ch.Messages() {
	}
}

// helperTerm waits for SIGTERM, then for its channel to close, and exits
// 42 if the parent had closed it (43 if the channel failed otherwise).
func helperTerm() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	ch := mustInherit()
	ch.Send("ready")
	select {
	case <-sigs:
	case <-time.After(time.Minute):
		childFatal("no SIGTERM")
	}
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		childFatal("SIGTERM came but the channel is still open")
	}
	if err := recvEndOf(ch); !errors.Is(err, ipc.ErrDisconnected) {
		fmt.Fprintf(os.Stderr, "helper: channel ended with %v\n", err)
		os.Exit(43)
	}
	os.Exit(42)
}

// recvEndOf drains ch and returns why it ended.
func recvEndOf(ch *ipc.Channel) error {
	for {
		if _, err := ch.Recv(); err != nil {
			return err
		}
	}
}

// helperGroup starts `sleep 60` in its own process group, reports the
// sleeper's pid and waits for the channel to close.
func helperGroup() {
	ch := mustInherit()
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		childFatal("sleep: %v", err)
	}
	ch.Send(map[string]int{"pid": sleeper.Process.Pid})
	for range ch.Messages() {
	}
	sleeper.Process.Kill()
	sleeper.Wait()
}

// helperMiddle starts a grandchild through proc (HERD_MIDDLE says which
// kind), from a thread that then exits, checks that the grandchild is
// still alive (answering, if it reads its channel), reports its pid and
// waits to be killed.
func helperMiddle() {
	ch := mustInherit()
	gc, answers := grandchild(os.Getenv("HERD_MIDDLE"))
	var err error
	tid := onDyingThread(func() { err = gc.Start() })
	if err != nil {
		childFatal("start grandchild: %v", err)
	}
	waitThreadGone(tid)
	if answers {
		ping(gc.Channel())
	} else {
		select {
		case <-gc.Exited():
			childFatal("grandchild exited: %v", gc.Wait())
		case <-time.After(200 * time.Millisecond):
		}
	}
	ch.Send(map[string]int{"pid": gc.Pid()})
	time.Sleep(time.Minute)
}

// grandchild returns the middle process's child for mode, and whether it
// answers a ping.
func grandchild(mode string) (c *proc.Cmd, answers bool) {
	switch mode {
	case "pdeathsig", "orphan":
		c = helperCmd("idle")
	case "pdeathsig-ping":
		c, answers = helperCmd("hang"), true
	case "eof":
		c, answers = helperCmd("echo"), true
	case "node", "node-no-listener":
		c, answers = proc.Command("node", os.Getenv("HERD_NODE_SCRIPT")), mode == "node"
		c.Stderr = os.Stderr
	default:
		childFatal("unknown HERD_MIDDLE %q", mode)
	}
	if strings.HasPrefix(mode, "pdeathsig") {
		c.Pdeathsig = syscall.SIGKILL
	}
	return c, answers
}

// ping sends a message on ch and waits for any answer.
func ping(ch *ipc.Channel) {
	if err := ch.Send("ping"); err != nil {
		childFatal("ping: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	if _, err := ch.RecvContext(ctx); err != nil {
		childFatal("ping: %v", err)
	}
}

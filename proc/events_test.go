package proc_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// pingPong checks that c's helper is up and answering.
func pingPong(t *testing.T, c *proc.Cmd) {
	t.Helper()
	if err := c.Channel().Send("ping"); err != nil {
		t.Fatal(err)
	}
	var s string
	if recvInto(t, c.Channel(), &s); s != "ping" {
		t.Fatalf("got %q, want the ping back", s)
	}
}

func TestEventExitCode(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "exit", "HERD_EXIT_CODE=7")
	evs := allEvents(t, c)
	ev := findEvent(t, evs, proc.Exit)
	if ev.Code != 7 || ev.Signal != 0 || !ev.Crashed() {
		t.Errorf("exit event %+v, want code 7, no signal, crashed", ev)
	}
	if d := findEvent(t, evs, proc.Disconnect); !errors.Is(d.Err, ipc.ErrDisconnected) {
		t.Errorf("disconnect event %+v, want ErrDisconnected", d)
	}
	if slices.ContainsFunc(evs, func(ev proc.Event) bool { return ev.Kind == proc.Error }) {
		t.Errorf("unexpected error event in %+v", evs)
	}
}

func TestEventExitZeroIsNotACrash(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "exit", "HERD_EXIT_CODE=0")
	ev := findEvent(t, allEvents(t, c), proc.Exit)
	if ev.Code != 0 || ev.Signal != 0 || ev.Crashed() {
		t.Errorf("exit event %+v, want a clean exit", ev)
	}
}

func TestEventExitSignal(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "hang")
	pingPong(t, c)
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	ev := findEvent(t, allEvents(t, c), proc.Exit)
	if ev.Signal != syscall.SIGKILL || ev.Code != -1 || !ev.Crashed() {
		t.Errorf("exit event %+v, want SIGKILL, code -1, crashed", ev)
	}
}

// The child closes its channel and keeps running: Disconnect comes with
// ipc.ErrDisconnected, and no Exit until it is killed.
func TestEventDisconnectByChild(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "closer")
	if err := recvEnd(t, c.Channel()); !errors.Is(err, ipc.ErrDisconnected) {
		t.Fatalf("Recv: %v, want ErrDisconnected", err)
	}
	ev := <-c.Events()
	if ev.Kind != proc.Disconnect || !errors.Is(ev.Err, ipc.ErrDisconnected) {
		t.Fatalf("first event %+v, want Disconnect with ErrDisconnected", ev)
	}
	if c.ProcessState() != nil {
		t.Fatal("the child exited; it should still be running")
	}
	c.Kill()
	if ev := findEvent(t, allEvents(t, c), proc.Exit); ev.Signal != syscall.SIGKILL {
		t.Errorf("exit event %+v, want SIGKILL", ev)
	}
}

// The parent disconnects: Disconnect comes with ipc.ErrClosed, and the
// echo child, which exits on end of file, exits 0.
func TestEventDisconnectByParent(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "echo")
	pingPong(t, c)
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(); !errors.Is(err, ipc.ErrClosed) {
		t.Errorf("second Disconnect: %v, want ErrClosed", err)
	}
	evs := allEvents(t, c)
	if d := findEvent(t, evs, proc.Disconnect); !errors.Is(d.Err, ipc.ErrClosed) {
		t.Errorf("disconnect event %+v, want ErrClosed", d)
	}
	if ev := findEvent(t, evs, proc.Exit); ev.Crashed() {
		t.Errorf("exit event %+v, want a clean exit", ev)
	}
}

// The child writes a line that is not JSON: an Error event with the
// protocol error, then Disconnect with the same error; the child sees
// end of file and exits 0.
func TestEventErrorOnGarbage(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "raw", "HERD_RAW=this is not json\n")
	var pe *ipc.ProtocolError
	if err := recvEnd(t, c.Channel()); !errors.As(err, &pe) || pe.Kind != ipc.Malformed {
		t.Fatalf("Recv: %v, want a Malformed protocol error", err)
	}
	evs := allEvents(t, c)
	kinds := make([]proc.EventKind, 0, len(evs))
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if i, j := slices.Index(kinds, proc.Error), slices.Index(kinds, proc.Disconnect); i < 0 || j < i {
		t.Fatalf("events %+v, want Error before Disconnect", evs)
	}
	for _, k := range []proc.EventKind{proc.Error, proc.Disconnect} {
		if ev := findEvent(t, evs, k); !errors.As(ev.Err, &pe) || pe.Kind != ipc.Malformed {
			t.Errorf("%v event %+v, want the Malformed protocol error", k, ev)
		}
	}
	if ev := findEvent(t, evs, proc.Exit); ev.Crashed() {
		t.Errorf("exit event %+v, want a clean exit", ev)
	}
}

// A child that exits 0 without reading the messages sent to it: Linux
// reports ECONNRESET instead of end of file, which is still a plain
// Disconnect (as in Node), not an Error.
func TestEventExitWithUnreadMessages(t *testing.T) {
	testutil.CheckFDs(t)
	const msg = `"you will not read this"`
	c := helper(t, "unread", "HERD_UNREAD_BYTES="+strconv.Itoa(3*(len(msg)+1)))
	for range 3 {
		if err := c.Channel().Send(json.RawMessage(msg)); err != nil {
			t.Fatal(err)
		}
	}
	evs := allEvents(t, c)
	if ev := findEvent(t, evs, proc.Exit); ev.Crashed() {
		t.Fatalf("exit event %+v, want a clean exit", ev)
	}
	if d := findEvent(t, evs, proc.Disconnect); !errors.Is(d.Err, ipc.ErrDisconnected) {
		t.Errorf("disconnect event %+v, want ErrDisconnected", d)
	}
}

package proc_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

func TestMain(m *testing.M) {
	testutil.Main(m, testutil.Helpers{
		"echo":   helperEcho,
		"exit":   helperExit,
		"hang":   helperHang,
		"idle":   helperIdle,
		"closer": helperCloser,
		"raw":    helperRaw,
		"unread": helperUnread,
		"info":   helperInfo,
		"term":   helperTerm,
		"group":  helperGroup,
		"middle": helperMiddle,
	})
}

// liveness bounds every wait for something that must happen: generous,
// because the tests run on busy machines.
const liveness = 30 * time.Second

// helperCmd returns a Cmd that re-executes the test binary as helper name.
func helperCmd(name string, env ...string) *proc.Cmd {
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv(name, env...)
	c.Stderr = os.Stderr
	return c
}

// start starts c and makes sure it is killed and reaped when the test ends.
func start(t *testing.T, c *proc.Cmd) *proc.Cmd {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Kill()
		c.Wait()
		for range c.Events() {
		}
	})
	return c
}

// helper starts the helper name.
func helper(t *testing.T, name string, env ...string) *proc.Cmd {
	t.Helper()
	return start(t, helperCmd(name, env...))
}

// waitExit waits for c to exit and returns Wait's error.
func waitExit(t *testing.T, c *proc.Cmd) error {
	t.Helper()
	select {
	case <-c.Exited():
	case <-time.After(liveness):
		t.Fatalf("child %d did not exit", c.Pid())
	}
	return c.Wait()
}

// allEvents collects c's events until the events channel is closed.
func allEvents(t *testing.T, c *proc.Cmd) []proc.Event {
	t.Helper()
	var evs []proc.Event
	timeout := time.After(liveness)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("events channel not closed; got %+v", evs)
		}
	}
}

// findEvent returns the event of kind k in evs, failing if there is not
// exactly one.
func findEvent(t *testing.T, evs []proc.Event, k proc.EventKind) proc.Event {
	t.Helper()
	var found []proc.Event
	for _, ev := range evs {
		if ev.Kind == k {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %v event, got %+v", k, evs)
	}
	return found[0]
}

// recv returns the next message on ch, failing on error or timeout.
func recv(t *testing.T, ch *ipc.Channel) *ipc.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	m, err := ch.RecvContext(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

// recvInto receives the next message and decodes it into v.
func recvInto(t *testing.T, ch *ipc.Channel, v any) *ipc.Message {
	t.Helper()
	m := recv(t, ch)
	if err := m.Decode(v); err != nil {
		t.Fatalf("%v (message %s)", err, m.Data)
	}
	return m
}

// recvEnd waits for Recv to report the channel's end and returns why.
func recvEnd(t *testing.T, ch *ipc.Channel) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	for range 100 {
		m, err := ch.RecvContext(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("channel did not close")
		}
		if err != nil {
			return err
		}
		t.Logf("ignoring message %s before the end", m.Data)
		m.CloseHandle()
	}
	t.Fatal("too many messages before the end")
	return nil
}

func TestEchoRoundTrip(t *testing.T) {
	testutil.CheckFDs(t)
	c := helper(t, "echo")
	ch := c.Channel()
	for i := 0; i < 100; i++ {
		if err := ch.Send(map[string]any{"i": i, "s": "héllo\n"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		var v struct {
			I int
			S string
		}
		recvInto(t, ch, &v)
		if v.I != i || v.S != "héllo\n" {
			t.Fatalf("message %d: %+v", i, v)
		}
	}
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, c); err != nil {
		t.Fatal(err)
	}
}

package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

// liveness bounds every wait for something that must happen; tests never
// assert speed, so it is generous for a busy machine.
const liveness = 30 * time.Second

func TestMain(m *testing.M) {
	helpers := testutil.Helpers{
		"ipc-echo":    helperEcho,
		"ipc-serve":   helperServe,
		"ipc-give":    helperGive,
		"ipc-garbage": helperGarbage,
		"ipc-env":     helperEnv,
	}
	maps.Copy(helpers, benchHelpers)
	testutil.Main(m, helpers)
}

// childChannel is a helper child's end of the channel; without one the
// child exits 3.
func childChannel() *ipc.Channel {
	ch, err := ipc.Inherited(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	return ch
}

// helperEcho sends back every message it gets, with its handle if it came
// with one, until the channel closes.
func helperEcho() {
	ch := childChannel()
	for m := range ch.Messages() {
		if m.Handle == nil {
			ch.Send(m.Data)
			continue
		}
		err := ch.SendHandle(m.Data, m.Handle)
		if err != nil && !errors.Is(err, ipc.ErrDisconnected) && !errors.Is(err, ipc.ErrClosed) {
			fmt.Fprintln(os.Stderr, "echo helper:", err)
		}
		m.CloseHandle()
	}
	ch.Close()
}

// spawn starts the helper child name with a channel to it; the test's
// cleanup closes the channel, kills the child and reaps it.
func spawn(t *testing.T, name string) *proc.Cmd {
	t.Helper()
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv(name)
	c.Stderr = os.Stderr
	c.Pdeathsig = syscall.SIGKILL
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Channel().Close()
		c.Kill()
		c.Wait()
		for range c.Events() {
		}
	})
	return c
}

// spawnChannel is spawn for tests that need only the channel.
func spawnChannel(t *testing.T, name string) *ipc.Channel {
	t.Helper()
	return spawn(t, name).Channel()
}

// recvMsg returns the next message, failing the test on an error or when
// none comes in time.
func recvMsg(t testing.TB, ch *ipc.Channel) *ipc.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	m, err := ch.RecvContext(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

// recvInto receives the next message and decodes it into a T.
func recvInto[T any](t testing.TB, ch *ipc.Channel) T {
	t.Helper()
	var v T
	if err := recvMsg(t, ch).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// recvErr receives (closing any handles) until the channel reports why it
// closed, and returns that.
func recvErr(t testing.TB, ch *ipc.Channel) error {
	t.Helper()
	return recvEach(t, ch, func(*ipc.Message) {})
}

// recvEach is recvErr that passes each message to check first.
func recvEach(t testing.TB, ch *ipc.Channel, check func(*ipc.Message)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	for range 1 << 20 {
		m, err := ch.RecvContext(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("the channel did not close in time")
		}
		if err != nil {
			return err
		}
		check(m)
		m.CloseHandle()
	}
	t.Fatal("the channel did not close after 2^20 messages")
	return nil
}

// waitClosed fails the test unless ch's Done is closed within liveness.
func waitClosed(t testing.TB, ch *ipc.Channel) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(liveness):
		t.Fatal("the channel did not close in time")
	}
}

// mustSend sends v or fails the test.
func mustSend(t testing.TB, ch *ipc.Channel, v any) {
	t.Helper()
	if err := ch.Send(v); err != nil {
		t.Fatalf("send %v: %v", v, err)
	}
}

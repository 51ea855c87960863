package proc_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
)

func TestMain(m *testing.M) {
	testutil.Main(m, testutil.Helpers{
		"echo": helperEcho,
	})
}

// helperEcho sends back every message it gets, until the channel closes.
func helperEcho() {
	ch, err := ipc.Inherited(nil)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	}
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

func helper(t *testing.T, name string) *proc.Cmd {
	t.Helper()
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv(name)
	c.Stderr = os.Stderr
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
		m, err := ch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			I int
			S string
		}
		if err := m.Decode(&v); err != nil || v.I != i || v.S != "héllo\n" {
			t.Fatalf("message %d: %+v %v", i, v, err)
		}
	}
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child did not exit after disconnect")
	}
}

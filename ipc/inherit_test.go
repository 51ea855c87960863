package ipc_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// helperEnv reports which channel variables it still sees after Inherited.
func helperEnv() {
	ch := childChannel()
	var left []string
	for _, k := range []string{ipc.EnvChannelFD, ipc.EnvSerialization} {
		if v, ok := os.LookupEnv(k); ok {
			left = append(left, k+"="+v)
		}
	}
	ch.Send(left)
	for range ch.Messages() {
	}
	ch.Close()
}

func TestInheritedInChild(t *testing.T) {
	testutil.CheckFDs(t)
	ch := spawnChannel(t, "ipc-env")
	if left := recvInto[[]string](t, ch); len(left) != 0 {
		t.Fatalf("the child still sees %q", left)
	}
}

// setChannelEnv sets the channel variables for this test (they are put
// back when it ends).
func setChannelEnv(t *testing.T, fd, mode string) {
	t.Setenv(ipc.EnvChannelFD, fd)
	t.Setenv(ipc.EnvSerialization, mode)
}

func checkEnvCleared(t *testing.T) {
	t.Helper()
	for _, k := range []string{ipc.EnvChannelFD, ipc.EnvSerialization} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q is still set", k, v)
		}
	}
}

func TestInheritedNoChannel(t *testing.T) {
	setChannelEnv(t, "", "json")
	if _, err := ipc.Inherited(nil); !errors.Is(err, ipc.ErrNoChannel) {
		t.Fatalf("empty %s: %v, want ErrNoChannel", ipc.EnvChannelFD, err)
	}
	checkEnvCleared(t)
	if _, err := ipc.Inherited(nil); !errors.Is(err, ipc.ErrNoChannel) {
		t.Fatalf("unset %s: %v, want ErrNoChannel", ipc.EnvChannelFD, err)
	}
}

func TestInheritedWorks(t *testing.T) {
	testutil.CheckFDs(t)
	fds, err := sysport.Socketpair(unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	peer := osFile(fds[1])
	defer peer.Close()
	setChannelEnv(t, strconv.Itoa(fds[0]), "json")
	ch, err := ipc.Inherited(nil) // takes fds[0]
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	checkEnvCleared(t)
	mustSend(t, ch, "hello")
	buf := make([]byte, 64)
	if n, err := peer.Read(buf); string(buf[:n]) != "\"hello\"\n" {
		t.Fatalf("peer read %q (%v)", buf[:n], err)
	}
}

func TestInheritedRejects(t *testing.T) {
	testutil.CheckFDs(t)
	f, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dgram, err := sysport.Socketpair(unix.SOCK_DGRAM)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dgram[0])
	defer unix.Close(dgram[1])
	stream := socketPairFDs(t)
	for _, c := range []struct{ fd, mode, want string }{
		{strconv.Itoa(stream[0]), "advanced", "only json"},
		{strconv.Itoa(stream[0]), "bogus", "only json"},
		{strconv.Itoa(int(f.Fd())), "json", "not a socket"},
		{strconv.Itoa(dgram[0]), "", "not an AF_UNIX stream socket"},
		{"abc", "json", "not a file descriptor"},
		{"-1", "json", "not a file descriptor"},
		{"1048576", "json", "bad file descriptor"},
	} {
		setChannelEnv(t, c.fd, c.mode)
		ch, err := ipc.Inherited(nil)
		if err == nil {
			ch.Close()
			t.Fatalf("%s=%s %s=%s: accepted", ipc.EnvChannelFD, c.fd, ipc.EnvSerialization, c.mode)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s mode %q: %v, want an error about %q", ipc.EnvChannelFD, c.fd, c.mode, err, c.want)
		}
		checkEnvCleared(t)
	}
}

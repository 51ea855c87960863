package ipc

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// rights must build exactly what unix.UnixRights builds.
func TestRightsAsUnixRights(t *testing.T) {
	var o rawWriter
	for _, fd := range []int{0, 7, 1 << 20} {
		if got, want := o.rights(fd), unix.UnixRights(fd); !bytes.Equal(got, want) {
			t.Errorf("rights(%d) = %v, want %v", fd, got, want)
		}
	}
}

// internalCmd returns the same cmd whether it is one of the constants
// cmdString knows or not.
func TestInternalCmdFast(t *testing.T) {
	for line, want := range map[string]string{
		`{"cmd":"NODE_CLUSTER","ack":1}`: "NODE_CLUSTER",
		`{"cmd":"NODE_HANDLE_ACK"}`:      "NODE_HANDLE_ACK",
		`{"cmd":"NODE_OTHER","x":1}`:     "NODE_OTHER",
		`{"cmd":"NODE_"}`:                "",
		`{"cmd":"node_cluster"}`:         "",
		`{"cmd":"user"}`:                 "",
	} {
		if got := internalCmd([]byte(line)); got != want {
			t.Errorf("internalCmd(%s) = %q, want %q", line, got, want)
		}
	}
}

package ipc

import (
	"fmt"
	"os"
	"strconv"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// The environment variables that tell a child where its channel is. They
// are Node's own, so Node children and herd children find it the same way.
const (
	EnvChannelFD     = "NODE_CHANNEL_FD"
	EnvSerialization = "NODE_CHANNEL_SERIALIZATION_MODE"
)

// Inherited returns the channel this process was started with (by herd's
// proc package or by Node's child_process.fork), and removes the variables
// that name it from the environment so that grandchildren do not inherit
// them. It returns ErrNoChannel when there is none. Call it once: the
// second call finds the variables gone.
func Inherited(opts *Options) (*Channel, error) {
	v, ok := os.LookupEnv(EnvChannelFD)
	mode := os.Getenv(EnvSerialization)
	os.Unsetenv(EnvChannelFD)
	os.Unsetenv(EnvSerialization)
	if !ok || v == "" {
		return nil, ErrNoChannel
	}
	if mode != "" && mode != "json" {
		return nil, fmt.Errorf("ipc: %s=%q: only json serialization is supported", EnvSerialization, mode)
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("ipc: %s=%q is not a file descriptor", EnvChannelFD, v)
	}
	si, err := inspect(fd)
	if err != nil {
		return nil, fmt.Errorf("ipc: %s=%d: %w", EnvChannelFD, fd, err)
	}
	if si.family != unix.AF_UNIX || si.sotype != unix.SOCK_STREAM {
		return nil, fmt.Errorf("ipc: %s=%d is not an AF_UNIX stream socket", EnvChannelFD, fd)
	}
	return FromFile(os.NewFile(uintptr(fd), "ipc-channel"), opts)
}

func socketpair() ([2]int, error) {
	return sysport.Socketpair(unix.SOCK_STREAM)
}

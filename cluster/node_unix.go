package cluster

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// sunPathMax is the longest path a Unix socket address holds (107 bytes
// on Linux: sun_path less its terminating NUL).
const sunPathMax = len(unix.RawSockaddrUnix{}.Path) - 1

// nodeUnixPath is the path the primary binds for a Unix socket a Node
// worker asks for. The worker sends the path made absolute; when that is
// too long for a socket address, the primary binds it relative to its
// own working directory, as Node's primary does, if that is shorter (a
// path that fits is bound as it is, so that it names the same socket as
// Config.Listen's).
func nodeUnixPath(path string) string {
	if len(path) <= sunPathMax || !filepath.IsAbs(path) {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && len(rel) < len(path) {
		return rel
	}
	return path
}

// nodeSocketMode applies listen({path, readableAll, writableAll}) to a
// Unix socket's file as Node's primary does: the read (or write)
// permission for everyone, added to the file's mode.
func nodeSocketMode(s *socket, q *nodeIn) error {
	var add os.FileMode
	if q.ReadableAll {
		add |= 0o444
	}
	if q.WritableAll {
		add |= 0o222
	}
	if add == 0 || s.network != "unix" || s.path == "" {
		return nil
	}
	fi, err := os.Stat(s.path)
	if err == nil && fi.Mode().Perm()&add != add {
		err = os.Chmod(s.path, fi.Mode().Perm()|add)
	}
	if err != nil {
		return fmt.Errorf("cluster: socket mode of %s: %w", s.path, err)
	}
	return nil
}

package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultPath returns the control socket of the herd called name:
// $XDG_RUNTIME_DIR/herd/NAME.sock when XDG_RUNTIME_DIR is set, else
// /tmp/herd-UID/NAME.sock.
func DefaultPath(name string) string {
	return filepath.Join(DefaultDir(), name+".sock")
}

// DefaultDir is the directory of this user's control sockets, where
// DefaultPath puts them: $XDG_RUNTIME_DIR/herd, else /tmp/herd-UID.
func DefaultDir() string {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(rt) {
		return filepath.Join(rt, "herd")
	}
	return filepath.Join(os.TempDir(), "herd-"+strconv.Itoa(os.Getuid()))
}

// Names lists, sorted, the names of the herds whose control sockets are
// in DefaultDir, served or stale; none when the directory is missing.
func Names() ([]string, error) {
	ents, err := os.ReadDir(DefaultDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	var names []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".sock")
		if ok && e.Type()&os.ModeSocket != 0 && CheckName(name) == nil {
			names = append(names, name)
		}
	}
	return names, nil
}

// CheckName reports whether name can name a herd (and its socket file).
func CheckName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("control: bad name %q: want a file name such as \"api\"", name)
	}
	return nil
}

// privateDir makes dir (mode 0700) if it is missing, and checks that it is
// a directory of this user that nobody else can enter.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("control: %s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("control: directory %s belongs to uid %d, not to this user", dir, st.Uid)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("control: directory %s is open to others (mode %04o): use a private one (chmod 700)", dir, fi.Mode().Perm())
	}
	return nil
}

// removeStale removes a socket file that nobody serves; a served one is
// an error: another herd uses that name.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control: %s exists and is not a socket", path)
	}
	if alive(path) {
		return fmt.Errorf("control: %s is in use: another herd runs with this name (give this one --name or --control)", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control: remove stale socket: %w", err)
	}
	return nil
}

package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// systemUnitDir is where systemd reads the units an administrator adds.
const systemUnitDir = "/etc/systemd/system"

// defaultUnitDir is where --install writes a unit: systemUnitDir, or the
// user's own unit directory for a user unit.
func defaultUnitDir(user bool) string {
	if !user {
		return systemUnitDir
	}
	if cfg := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(cfg) {
		return filepath.Join(cfg, "systemd", "user")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "~"
	}
	return filepath.Join(home, ".config", "systemd", "user")
}

// write installs the unit in its directory (replacing one of the same
// name at once, never half-written) and says how to start it.
func (s *systemdOptions) write(u *unit, stdout io.Writer) error {
	dir := s.unitDir
	if dir == "" {
		dir = defaultUnitDir(s.user)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return withCode(ExitError, fmt.Errorf("systemd: %w", err))
	}
	path := filepath.Join(dir, u.name)
	if err := writeFileAtomic(path, []byte(u.render()), 0o644); err != nil {
		return withCode(ExitError, fmt.Errorf("systemd: %w", err))
	}
	fmt.Fprintf(stdout, "wrote %s\nnext: %s\nthen: systemctl %sstatus %s, herd status --control %s\n",
		path, u.startCommand(), u.systemctlFlag(), u.name, u.control)
	return nil
}

// writeFileAtomic writes data to path through a temporary file beside it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is none
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}

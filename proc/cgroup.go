package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cgroup is a cgroup v2 directory. A process started in it (Cmd.Cgroup)
// and everything it forks stays in it, setsid and double forks
// included: leaving takes a write to another cgroup's cgroup.procs, which
// an unprivileged process below a delegated cgroup cannot do. Kill ends
// them all at once.
type Cgroup struct {
	// Dir is the cgroup's directory, e.g. /sys/fs/cgroup/app.service/herd-42.
	Dir string
}

// OwnCgroup returns the cgroup v2 directory of this process: its path in
// /proc/self/cgroup ("0::/PATH") under the cgroup2 mount that holds it
// (/proc/self/mountinfo).
func OwnCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("proc: cgroup: %w", err)
	}
	var path string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			path = p
		}
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/..") {
		return "", fmt.Errorf("proc: cgroup: no cgroup v2 of this process's own (%q)", path)
	}
	return cgroupMount(path)
}

// cgroupMount finds the cgroup2 mount whose root holds path, and returns
// path's directory under it.
func cgroupMount(path string) (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("proc: cgroup: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTS
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		pf, fs := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(fs) < 1 || fs[0] != "cgroup2" {
			continue
		}
		root, mnt := unescapeMount(pf[3]), unescapeMount(pf[4])
		if rel, ok := strings.CutPrefix(path, strings.TrimSuffix(root, "/")); ok && (rel == "" || rel[0] == '/') {
			return filepath.Join(mnt, rel), nil
		}
	}
	return "", errors.New("proc: cgroup: no cgroup2 file system mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MakeCgroup creates the cgroup dir, which must not exist, and checks
// that it has cgroup.kill (Linux 5.14). It fails where this process may
// not create one (cgroup v1 only, a read-only or undelegated hierarchy).
func MakeCgroup(dir string) (Cgroup, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return Cgroup{}, fmt.Errorf("proc: cgroup: %w", err)
	}
	g := Cgroup{Dir: dir}
	if _, err := os.Stat(g.file("cgroup.kill")); err != nil {
		os.Remove(dir)
		return Cgroup{}, fmt.Errorf("proc: cgroup: no cgroup.kill (Linux 5.14 or later): %w", err)
	}
	return g, nil
}

// Sub creates the child cgroup name of g.
func (g Cgroup) Sub(name string) (Cgroup, error) {
	return MakeCgroup(filepath.Join(g.Dir, name))
}

func (g Cgroup) file(name string) string { return filepath.Join(g.Dir, name) }

// Kill sends SIGKILL to every process in g and its child cgroups, at
// once (cgroup.kill): none can fork its way out. A cgroup already
// removed is not an error.
func (g Cgroup) Kill() error {
	err := os.WriteFile(g.file("cgroup.kill"), []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("proc: cgroup kill: %w", err)
	}
	return nil
}

// Populated reports whether a process is left in g or below it
// (cgroup.events), killed ones that have not finished exiting included.
func (g Cgroup) Populated() bool {
	b, err := os.ReadFile(g.file("cgroup.events"))
	return err == nil && strings.Contains(string(b), "populated 1")
}

// Remove kills what is in g, waits up to wait for it to be gone, and
// removes g and its child cgroups.
func (g Cgroup) Remove(wait time.Duration) error {
	if err := g.Kill(); err != nil {
		return err
	}
	for deadline := time.Now().Add(wait); g.Populated() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return g.removeDirs()
}

// removeDirs removes g's child cgroups, then g.
func (g Cgroup) removeDirs() error {
	ents, err := os.ReadDir(g.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range ents {
		if e.IsDir() {
			Cgroup{Dir: g.file(e.Name())}.removeDirs()
		}
	}
	if err := os.Remove(g.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("proc: cgroup remove: %w", err)
	}
	return nil
}

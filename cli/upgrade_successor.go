package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// successor is a new herd an upgrade started, seen from the old herd.
type successor struct {
	pid    int
	link   *os.File      // the old herd's end of the link
	lines  chan string   // lines read from the link; closed at its end
	exited chan struct{} // closed once the new herd has exited and been reaped
	state  *os.ProcessState
}

// startSuccessor starts the new herd with the sockets it inherits.
func (h *herd) startSuccessor() (*successor, error) {
	fds, files, err := h.upgradeFiles()
	defer closeFileList(files)
	if err != nil {
		return nil, err
	}
	pair, err := sysport.Socketpair(unix.SOCK_STREAM)
	if err == nil {
		err = unix.SetNonblock(pair[0], true)
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade: socketpair: %w", os.NewSyscallError("socketpair", err))
	}
	defer unix.Close(pair[1])
	s := &successor{link: os.NewFile(uintptr(pair[0]), "upgrade-link"), lines: make(chan string, 4), exited: make(chan struct{})}
	raw := []uintptr{0, 1, 2, uintptr(pair[1])}
	for _, f := range files {
		raw = append(raw, rawFD(f))
	}
	attr := &syscall.ProcAttr{Env: upgradeEnv(fds), Files: raw}
	start := func() (int, error) { return syscall.ForkExec(h.exe, os.Args, attr) }
	if sp, ok := h.keeper.(*subreaper); ok {
		s.pid, err = sp.spawn(start)
	} else {
		s.pid, err = start()
	}
	if err != nil {
		s.link.Close()
		return nil, fmt.Errorf("upgrade: cannot start %s: %w", h.exe, err)
	}
	go s.read()
	go s.wait()
	return s, nil
}

// upgradeFiles collects what the new herd inherits: the control socket
// and each program's sockets, numbered from fd 4 on (3 is the link).
func (h *herd) upgradeFiles() (upgradeFDs, []*os.File, error) {
	fds := upgradeFDs{Link: 3, Programs: map[string]map[string]int{}}
	f, err := h.ctl.File()
	if err != nil {
		return fds, nil, fmt.Errorf("upgrade: %w", err)
	}
	files := []*os.File{f}
	fds.Control = 4
	if h.metrics != nil {
		if f, err = h.metrics.File(); err != nil {
			return fds, files, fmt.Errorf("upgrade: %w", err)
		}
		fds.Metrics = 4 + len(files)
		files = append(files, f)
	}
	for _, pr := range h.progs {
		socks, err := pr.p.Sockets()
		if err != nil {
			return fds, files, fmt.Errorf("upgrade: program %s: %w", pr.name, err)
		}
		fds.Programs[pr.name] = map[string]int{}
		for key, f := range socks {
			fds.Programs[pr.name][key] = 4 + len(files)
			files = append(files, f)
		}
		if files, err = pr.snapshotState(&fds, files); err != nil {
			return fds, files, err
		}
	}
	return fds, files, nil
}

// snapshotState adds to files an unlinked file holding a snapshot of the
// program's embedded store (its keys, values and TTLs left), which the
// new herd loads before its workers start (cluster.StateConfig.Restore).
// What the workers write after it is not carried over.
func (pr *program) snapshotState(fds *upgradeFDs, files []*os.File) ([]*os.File, error) {
	f, err := os.CreateTemp("", "herd-state-*")
	if err != nil {
		return files, fmt.Errorf("upgrade: program %s: state snapshot: %w", pr.name, err)
	}
	os.Remove(f.Name())
	files = append(files, f)
	err = pr.p.SaveState(f)
	if errors.Is(err, cluster.ErrStateDisabled) {
		return files, nil
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return files, fmt.Errorf("upgrade: program %s: state snapshot: %w", pr.name, err)
	}
	if fds.State == nil {
		fds.State = map[string]int{}
	}
	fds.State[pr.name] = 3 + len(files)
	return files, nil
}

// upgradeEnv is herd's environment with envUpgrade describing fds.
func upgradeEnv(fds upgradeFDs) []string {
	b, _ := json.Marshal(fds)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envUpgrade+"=") {
			env = append(env, kv)
		}
	}
	return append(env, envUpgrade+"="+string(b))
}

// rawFD is f's descriptor, read without f.Fd (which would switch a
// socket that dispatchers accept on to blocking mode).
func rawFD(f *os.File) uintptr {
	var fd uintptr
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(d uintptr) { fd = d })
	}
	return fd
}

func closeFileList(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// read passes the link's lines on, until its end.
func (s *successor) read() {
	defer close(s.lines)
	sc := bufio.NewScanner(s.link)
	for sc.Scan() {
		s.lines <- sc.Text()
	}
}

// wait reaps the new herd.
func (s *successor) wait() {
	defer close(s.exited)
	if p, err := os.FindProcess(s.pid); err == nil {
		s.state, _ = p.Wait()
	}
}

// await waits up to d for the new herd to say want.
func (s *successor) await(want string, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return s.gone(want)
			}
			if line == want {
				return nil
			}
		case <-s.exited:
			return s.gone(want)
		case <-timer.C:
			return fmt.Errorf("the new herd (pid %d) did not say %s within %s", s.pid, want, d)
		}
	}
}

// gone describes the new herd's end before it said want.
func (s *successor) gone(want string) error {
	select {
	case <-s.exited:
		return fmt.Errorf("the new herd (pid %d) exited before it was %s: %s", s.pid, want, s.state)
	case <-time.After(time.Second):
		return fmt.Errorf("the new herd (pid %d) closed its link before it was %s", s.pid, want)
	}
}

// say writes a line to the new herd.
func (s *successor) say(line string) error {
	if _, err := s.link.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("the new herd (pid %d): %w", s.pid, err)
	}
	return nil
}

// stop stops the new herd gracefully, or kills it after grace.
func (s *successor) stop(grace time.Duration, log *slog.Logger) {
	defer s.link.Close()
	syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(grace):
	}
	log.Warn("upgrade: the new herd did not stop: killing it", "pid", s.pid)
	syscall.Kill(s.pid, syscall.SIGKILL)
	<-s.exited
}

package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herdhq/herd/internal/sysport"
	"github.com/herdhq/herd/ipc"
	"golang.org/x/sys/unix"
)

// closeGrace is how long the channel may stay open after the child exited
// (a grandchild may hold its end) before the parent closes it.
const closeGrace = time.Second

// ErrNotStarted is returned by calls that need a started process.
var ErrNotStarted = errors.New("proc: not started")

// ErrAlreadyStarted is returned by a second Start.
var ErrAlreadyStarted = errors.New("proc: already started")

// Cmd is a child process with an IPC channel. Set its fields before Start;
// as in os/exec, a Cmd cannot be reused.
type Cmd struct {
	// Path is the program to run; Command resolves it with exec.LookPath.
	Path string
	// Args holds the command line, including the program name as Args[0].
	Args []string
	// Env is the child's environment. Nil means this process's environment.
	// Any NODE_CHANNEL_* entries are replaced with the channel's.
	Env []string
	// Dir is the child's working directory; "" means this process's.
	Dir string
	// Stdin, Stdout and Stderr are as in os/exec: nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed as fds 3, 4, ...; the channel comes right
	// after them (fd 3 when there are none, as with Node's fork).
	ExtraFiles []*os.File
	// SysProcAttr holds extra OS attributes; Setpgid and Pdeathsig below
	// are applied on top of it.
	SysProcAttr *syscall.SysProcAttr
	// Setpgid puts the child in a process group of its own, so that
	// SignalGroup reaches its descendants too.
	Setpgid bool
	// Pdeathsig, if non-zero, is sent to the child by the kernel when this
	// process dies. Linux sends it when the thread that forked the child
	// exits (golang/go#27505), so Start forks on a goroutine locked to its
	// thread, and keeps it there until the child has been reaped. Only
	// Linux has it: elsewhere it is ignored (see doc.go).
	Pdeathsig syscall.Signal
	// Cgroup, if set, is a cgroup v2 directory the child starts in
	// (clone3 with CLONE_INTO_CGROUP: it runs nothing before it is
	// there), so that its descendants stay in it too (see Cgroup). Start
	// fails if the kernel refuses (before Linux 5.7, or without the right
	// to write the cgroup's cgroup.procs), and outside Linux.
	Cgroup string
	// ChannelOptions tunes the parent's end of the channel; nil means defaults.
	ChannelOptions *ipc.Options
	// Cancel and WaitDelay are os/exec's: with CommandContext, Cancel runs
	// when the context is done (nil means: close the channel, then
	// SIGTERM), and after WaitDelay more the child is killed.
	Cancel    func() error
	WaitDelay time.Duration

	// Process is the started process.
	Process *os.Process

	ctx     context.Context
	lookErr error // why Command could not resolve the program
	cmd     *exec.Cmd
	ch      *ipc.Channel
	events  chan Event
	exited  chan struct{}

	mu      sync.Mutex
	state   *os.ProcessState
	waitErr error
}

// Command returns a Cmd to run name with args, looking name up in PATH
// as exec.Command does. If the lookup fails, Start returns its error
// (exec.ErrNotFound, exec.ErrDot): a name without a slash never runs a
// file from the current directory.
func Command(name string, args ...string) *Cmd {
	c := &Cmd{Path: name, Args: append([]string{name}, args...)}
	if !strings.Contains(name, "/") {
		lp, err := exec.LookPath(name)
		if lp != "" {
			c.Path = lp
		}
		c.lookErr = err
	}
	return c
}

// CommandContext is Command whose child is stopped (Cancel, then a kill
// after WaitDelay) when ctx is done before it exits.
func CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	if ctx == nil {
		panic("proc: nil Context")
	}
	c := Command(name, args...)
	c.ctx = ctx
	return c
}

// Start starts the child with its channel. The channel is ready to use
// when Start returns. A Cmd is started at most once: if Start fails, Wait
// returns ErrNotStarted and Events is closed.
func (c *Cmd) Start() error {
	if c.exited != nil {
		return ErrAlreadyStarted
	}
	c.exited = make(chan struct{})
	c.events = make(chan Event, 3)
	if err := c.start(); err != nil {
		c.mu.Lock()
		c.waitErr = ErrNotStarted
		c.mu.Unlock()
		close(c.events)
		close(c.exited)
		return err
	}
	go c.watch()
	return nil
}

// start creates the channel, then the process. The channel exists before
// the process so that Cancel, which os/exec may call as soon as the
// process runs, can close it.
func (c *Cmd) start() error {
	if c.lookErr != nil {
		return fmt.Errorf("proc: %w", c.lookErr)
	}
	parent, child, err := ipc.Pair()
	if err != nil {
		return fmt.Errorf("proc: %w", err)
	}
	defer child.Close()
	c.ch = ipc.New(parent, c.ChannelOptions)
	c.cmd = c.execCmd(child)
	if err := c.forkIn(); err != nil {
		c.ch.Close()
		c.ch = nil
		return fmt.Errorf("proc: start %s: %w", c.Path, err)
	}
	c.Process = c.cmd.Process
	return nil
}

// execCmd builds the os/exec command that runs the child.
func (c *Cmd) execCmd(child *os.File) *exec.Cmd {
	var cmd *exec.Cmd
	if c.ctx != nil {
		cmd = exec.CommandContext(c.ctx, c.Path)
		cmd.Cancel = c.Cancel
		if cmd.Cancel == nil {
			cmd.Cancel = c.stop
		}
		cmd.WaitDelay = c.WaitDelay
	} else {
		cmd = &exec.Cmd{Path: c.Path}
	}
	cmd.Args = c.Args
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = append(append([]*os.File(nil), c.ExtraFiles...), child)
	cmd.Env = channelEnv(c.Env, 3+len(c.ExtraFiles))
	cmd.SysProcAttr = c.sysProcAttr()
	return cmd
}

func (c *Cmd) sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if c.SysProcAttr != nil {
		*a = *c.SysProcAttr
	}
	if c.Setpgid {
		a.Setpgid = true
	}
	if c.Pdeathsig != 0 {
		sysport.SetPdeathsig(a, c.Pdeathsig)
	}
	return a
}

// channelEnv returns env (or os.Environ) with the channel's variables set.
func channelEnv(env []string, fd int) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, ipc.EnvChannelFD+"=") && !strings.HasPrefix(kv, ipc.EnvSerialization+"=") {
			out = append(out, kv)
		}
	}
	return append(out, ipc.EnvChannelFD+"="+strconv.Itoa(fd), ipc.EnvSerialization+"=json")
}

// forkIn forks in c.Cgroup, if set.
func (c *Cmd) forkIn() error {
	if c.Cgroup == "" {
		return c.fork()
	}
	fd, err := unix.Open(c.Cgroup, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c.Cgroup, err)
	}
	defer unix.Close(fd)
	if err := intoCgroup(c.cmd.SysProcAttr, fd); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.Cgroup, err)
	}
	return c.fork()
}

// fork starts the process and a goroutine that reaps it. With a
// Pdeathsig (the field's or SysProcAttr's) both happen on one goroutine
// locked to its thread, so the thread that forked lives as long as the
// child.
func (c *Cmd) fork() error {
	if sysport.Pdeathsig(c.cmd.SysProcAttr) == 0 {
		if err := c.cmd.Start(); err != nil {
			return err
		}
		go c.reap()
		return nil
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := c.cmd.Start()
		started <- err
		if err == nil {
			c.reap()
		}
	}()
	return <-started
}

// reap waits for the process and records how it ended.
func (c *Cmd) reap() {
	err := c.cmd.Wait()
	c.mu.Lock()
	c.state, c.waitErr = c.cmd.ProcessState, err
	c.mu.Unlock()
	close(c.exited)
}

// stop is the default Cancel: close the channel, then ask politely.
func (c *Cmd) stop() error {
	c.ch.Close()
	return c.cmd.Process.Signal(syscall.SIGTERM)
}

// Channel returns the parent's end of the channel, or nil before Start.
func (c *Cmd) Channel() *ipc.Channel { return c.ch }

// Events returns the child's events: at most one Error, one Disconnect
// and one Exit, then the channel is closed. It never blocks the child's
// bookkeeping, so reading it is optional.
func (c *Cmd) Events() <-chan Event { return c.events }

// Exited is closed when the child has exited and been reaped (or when
// Start failed).
func (c *Cmd) Exited() <-chan struct{} { return c.exited }

// Wait waits for the child to exit and returns nil for exit code 0, else
// an *exec.ExitError (or the error that stopped the wait). It may be
// called more than once, from any goroutine.
func (c *Cmd) Wait() error {
	if c.exited == nil {
		return ErrNotStarted
	}
	<-c.exited
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitErr
}

// ProcessState is how the child ended, or nil while it runs.
func (c *Cmd) ProcessState() *os.ProcessState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Pid is the child's process id, or 0 before Start.
func (c *Cmd) Pid() int {
	if c.Process == nil {
		return 0
	}
	return c.Process.Pid
}

// Disconnect closes the channel, as Node's child.disconnect(). The child
// sees end of file; it keeps running unless it exits on that.
func (c *Cmd) Disconnect() error {
	if c.ch == nil {
		return ErrNotStarted
	}
	return c.ch.Close()
}

// Signal sends sig to the child. It is a no-op returning os.ErrProcessDone
// once the child was reaped.
func (c *Cmd) Signal(sig os.Signal) error {
	if c.Process == nil {
		return ErrNotStarted
	}
	return c.Process.Signal(sig)
}

// Kill sends SIGKILL to the child.
func (c *Cmd) Kill() error { return c.Signal(syscall.SIGKILL) }

// SignalGroup sends sig to the child's whole process group (the child and
// its descendants). It needs Setpgid.
func (c *Cmd) SignalGroup(sig syscall.Signal) error {
	if c.Process == nil {
		return ErrNotStarted
	}
	if !c.Setpgid {
		return errors.New("proc: SignalGroup needs Setpgid")
	}
	// The group outlives its leader while descendants remain, and its id is
	// not reused before the group is empty, so this is safe after Wait too.
	if err := unix.Kill(-c.Process.Pid, sig); err != nil {
		return fmt.Errorf("proc: signal group %d: %w", c.Process.Pid, err)
	}
	return nil
}

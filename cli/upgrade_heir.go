package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/coreos/go-systemd/v22/daemon"
)

// envUpgrade names, in a herd that an upgrade started, what it inherited
// from the old herd (upgradeFDs, as JSON). herd removes it from its
// environment at once: its workers and its own successor never see it.
const envUpgrade = "HERD_UPGRADE"

// upgradeFDs says which inherited descriptor is what.
type upgradeFDs struct {
	Link     int                       `json:"link"`     // the socket pair to the old herd
	Control  int                       `json:"control"`  // the control socket
	Metrics  int                       `json:"metrics"`  // --metrics' socket; 0: none
	Programs map[string]map[string]int `json:"programs"` // each program's sockets, by cluster key
	State    map[string]int            `json:"state"`    // each program's store snapshot (an unlinked file)
}

// heir is what a herd that an upgrade started inherited, and its side of
// the hand-over (upgrade.go has the steps).
type heir struct {
	link     *os.File
	control  *os.File                       // taken by openSockets
	metrics  *os.File                       // taken by listenMetrics; nil: none
	programs map[string]map[string]*os.File // each program's sockets, taken by its cluster
	state    map[string]*os.File            // each program's store snapshot, read by its cluster's Run; closed when up
	up       chan struct{}                  // closed when every program is up
	upOnce   sync.Once
	main     sync.Once // serving as the main herd
	done     chan struct{}
}

// takeInheritance reads envUpgrade, if set, and returns what it names;
// nil when herd was not started by an upgrade.
func takeInheritance() (*heir, error) {
	v, ok := os.LookupEnv(envUpgrade)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(envUpgrade)
	var fds upgradeFDs
	if err := json.Unmarshal([]byte(v), &fds); err != nil {
		return nil, withCode(ExitError, fmt.Errorf("upgrade: bad %s: %w", envUpgrade, err))
	}
	hr := &heir{link: os.NewFile(uintptr(fds.Link), "upgrade-link"), control: os.NewFile(uintptr(fds.Control), "control"),
		programs: map[string]map[string]*os.File{}, state: map[string]*os.File{}, up: make(chan struct{}), done: make(chan struct{})}
	if fds.Metrics > 0 {
		hr.metrics = os.NewFile(uintptr(fds.Metrics), "metrics")
	}
	for name, socks := range fds.Programs {
		hr.programs[name] = map[string]*os.File{}
		for key, fd := range socks {
			hr.programs[name][key] = os.NewFile(uintptr(fd), key)
		}
	}
	for name, fd := range fds.State {
		hr.state[name] = os.NewFile(uintptr(fd), "state-"+name)
	}
	return hr, nil
}

// close closes what no program took.
func (hr *heir) close() {
	for _, socks := range hr.programs {
		closeFiles(socks)
	}
	hr.programs = nil
	for _, f := range []*os.File{hr.control, hr.metrics} {
		if f != nil {
			f.Close()
		}
	}
}

func closeFiles(fs map[string]*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// notifyPath is the NOTIFY_SOCKET of the herd of pid: a herd an upgrade
// started has one of its own, beside the old herd's.
func (h *herd) notifyPath(pid int) string {
	return h.ctlBase() + "-" + strconv.Itoa(pid) + ".notify"
}

// succeed runs the new herd's side of the hand-over (upgrade.go): ready
// once every program is up, main at "go", and the owner of what it
// inherited at the link's end (the old herd has handed over, or died).
func (h *herd) succeed() {
	hr := h.heir
	defer close(hr.done)
	lines := make(chan string)
	go readLines(hr.link, lines)
	select {
	case <-hr.up:
		hr.link.WriteString("ready\n")
	case _, ok := <-lines:
		if !ok {
			h.takeOver()
			return
		}
	}
	for line := range lines {
		if line == "go" {
			h.serveAsMain()
			hr.link.WriteString("main\n")
		}
	}
	h.takeOver()
}

// readLines sends f's lines to c, and closes c at f's end.
func readLines(f *os.File, c chan<- string) {
	defer close(c)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c <- sc.Text()
	}
}

// serveAsMain serves the control socket and tells systemd that this
// herd is the service's main process now, once.
func (h *herd) serveAsMain() {
	h.heir.main.Do(func() {
		if h.ending.Load() {
			return
		}
		h.main.Store(true)
		go h.ctl.Serve(h)
		sdNotify("MAINPID=" + strconv.Itoa(os.Getpid()) + "\n" + daemon.SdNotifyReady)
	})
}

// takeOver makes the new herd the owner of what it inherited: the
// control socket's and the unix sockets' files are its to remove.
func (h *herd) takeOver() {
	if h.ending.Load() {
		return
	}
	h.serveAsMain()
	h.ctl.Own()
	for _, pr := range h.progs {
		pr.p.TakeOver()
	}
	h.log.Info("took over from the old herd")
}

// heirUp tells the hand-over that every program is up: each cluster
// has loaded its store's snapshot, whose file is closed.
func (hr *heir) heirUp() {
	hr.upOnce.Do(func() {
		closeFiles(hr.state)
		close(hr.up)
	})
}

// endSucceed ends the hand-over's side of a herd that is stopping.
func (h *herd) endSucceed() {
	h.ending.Store(true)
	if h.heir != nil {
		closeFiles(h.heir.state) // if not up: every cluster's Run has returned
		h.heir.link.Close()
		<-h.heir.done
	}
}

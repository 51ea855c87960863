package control

import (
	"errors"
	"time"
)

// The commands of a Request.
const (
	CmdStatus = "status" // describe the workers
	CmdReload = "reload" // rolling reload; answered when it is done
	CmdScale  = "scale"  // set the number of workers to N
	CmdStop   = "stop"   // graceful stop; answered when herd has stopped
)

// maxResponse bounds a response line.
const maxResponse = 1 << 20

// Request is one command to a running herd.
type Request struct {
	Cmd string `json:"cmd"`
	N   int    `json:"n,omitempty"` // scale: the number of workers
	// Program, if set, names the one program of the herd that status,
	// reload and scale are about; "" means every program (scale: the
	// only one).
	Program string `json:"program,omitempty"`
}

// Response is herd's answer to a Request.
type Response struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Busy  bool   `json:"busy,omitempty"` // refused for too many connections: try again
	// BadRequest: the request was wrong (ErrBadRequest), not herd.
	BadRequest bool    `json:"bad_request,omitempty"`
	Status     *Status `json:"status,omitempty"` // status only
}

// Status describes a running herd.
type Status struct {
	Name    string    `json:"name"`
	Pid     int       `json:"pid"`
	Command []string  `json:"command"`
	Policy  string    `json:"policy"`
	Listen  []string  `json:"listen"` // the bound addresses
	Started time.Time `json:"started"`
	Workers []Worker  `json:"workers"`
	Desired int       `json:"desired"`            // the number of workers herd keeps
	LogFile string    `json:"log_file,omitempty"` // --log-file, as an absolute path
	Metrics string    `json:"metrics,omitempty"`  // where --metrics serves, HOST:PORT
	// Goroutines and FDs are herd's own goroutine and open file descriptor
	// counts (this request's included), to watch it for leaks.
	Goroutines int `json:"goroutines,omitempty"`
	FDs        int `json:"fds,omitempty"`
	// Programs are the herd's programs, in the order they were given,
	// each with its own workers (also listed, together, in Workers).
	Programs []Program `json:"programs"`
}

// Program describes one program of a herd: a command supervised on its
// own, with its own workers and settings.
type Program struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Policy  string   `json:"policy"`
	Listen  []string `json:"listen"` // the bound addresses
	Desired int      `json:"desired"`
	Workers []Worker `json:"workers"`
}

// Worker describes one worker process.
type Worker struct {
	Program  string    `json:"program"` // the program it runs
	ID       int       `json:"id"`      // unique within its program`
	Pid      int       `json:"pid"`
	State    string    `json:"state"`
	Restarts int       `json:"restarts"` // restarts of its slot so far
	Started  time.Time `json:"started"`
	Uptime   float64   `json:"uptime_seconds"`
	RSS      int64     `json:"rss_bytes"`         // resident memory, 0 when unknown
	Conns    int64     `json:"conns,omitempty"`   // open connections routed by herd (leastconn)
	CPU      float64   `json:"cpu_seconds"`       // user and system CPU time so far
	Handed   int64     `json:"handed"`            // connections herd handed to it (rr, leastconn)
	Suspect  bool      `json:"suspect,omitempty"` // missed heartbeats: no traffic routed to it
}

// Handler carries out requests; the server calls it from a goroutine per
// connection.
// program is the Request's Program: "" for all (see Request).
type Handler interface {
	Status(program string) (*Status, error)
	Reload(program string) error
	Scale(program string, n int) error
	Stop() error
}

// ErrBadRequest is what a Handler's error wraps (BadRequest) when the
// request itself is wrong, such as a program the herd does not run; the
// answer says so (Response.BadRequest), and Call's error wraps it too.
var ErrBadRequest = errors.New("control: bad request")

// BadRequest marks err as the request's fault, keeping its message.
func BadRequest(err error) error { return badRequest{err} }

type badRequest struct{ err error }

func (b badRequest) Error() string        { return b.err.Error() }
func (b badRequest) Unwrap() error        { return b.err }
func (b badRequest) Is(target error) bool { return target == ErrBadRequest }

package control

import "time"

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
}

// Response is herd's answer to a Request.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Busy   bool    `json:"busy,omitempty"`   // refused for too many connections: try again
	Status *Status `json:"status,omitempty"` // status only
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
}

// Worker describes one worker process.
type Worker struct {
	ID       int       `json:"id"`
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
type Handler interface {
	Status() (*Status, error)
	Reload() error
	Scale(n int) error
	Stop() error
}

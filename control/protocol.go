package control

import "time"

// The commands of a Request.
const (
	CmdStatus = "status" // describe the workers
	CmdReload = "reload" // rolling reload; answered when it is done
	CmdScale  = "scale"  // set the number of workers to N
	CmdStop   = "stop"   // graceful stop; answered when herd has stopped
)

// maxLine bounds a request or response line.
const maxLine = 1 << 20

// Request is one command to a running herd.
type Request struct {
	Cmd string `json:"cmd"`
	N   int    `json:"n,omitempty"` // scale: the number of workers
}

// Response is herd's answer to a Request.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
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
}

// Worker describes one worker process.
type Worker struct {
	ID       int       `json:"id"`
	Pid      int       `json:"pid"`
	State    string    `json:"state"`
	Restarts int       `json:"restarts"` // restarts of its slot so far
	Started  time.Time `json:"started"`
	Uptime   float64   `json:"uptime_seconds"`
	RSS      int64     `json:"rss_bytes"`       // resident memory, 0 when unknown
	Conns    int64     `json:"conns,omitempty"` // open connections routed by herd (leastconn)
}

// Handler carries out requests; the server calls it from a goroutine per
// connection.
type Handler interface {
	Status() (*Status, error)
	Reload() error
	Scale(n int) error
	Stop() error
}

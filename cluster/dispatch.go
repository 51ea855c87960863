package cluster

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// maxPending bounds the connections the primary holds while no worker can
// take them (all starting or restarting). Past it, new ones are closed.
const maxPending = 4096

// router is what the dispatcher needs from a worker.
type router interface {
	// handOff gives fd, accepted on d's socket, to the worker, which
	// then calls d.handedOff(fd, itself, taken) once: taken means the
	// worker has it, else d routes it elsewhere. d owns fd until then.
	handOff(fd int, d *dispatcher)
	// load is the worker's open connection count, for least-connections.
	load() int64
}

// dispatcher accepts on a round-robin socket and hands each connection
// to a worker. The primary's loop publishes the routable workers; the
// accept goroutine and hand-off callbacks only read that list.
type dispatcher struct {
	key   string
	least bool
	file  *os.File // a duplicate of the listening socket, for raw accepts
	next  atomic.Uint64
	set   atomic.Pointer[[]router]

	keys  *stickyKeys // Sticky: each owned connection's identity; else nil
	ident *identifier // identifies connections before routing; nil: none

	mu      sync.Mutex
	pending []int // accepted connections waiting for a worker
	done    chan struct{}
}

// newDispatcher starts the dispatcher of socket s for the cluster's
// policy (s.mode says least-connections) and identification settings.
func newDispatcher(s *socket, cfg *Config) (*dispatcher, error) {
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	d := &dispatcher{key: s.key, least: s.mode == modeLeastConn, file: os.NewFile(uintptr(fd), s.key),
		ident: newIdentifier(cfg), done: make(chan struct{})}
	if cfg.Policy == Sticky {
		d.keys = newStickyKeys()
	}
	empty := []router{}
	d.set.Store(&empty)
	go d.acceptLoop()
	return d, nil
}

// acceptLoop accepts in batches until the socket would block, with raw
// accept4 so that accepted sockets never enter Go's poller.
func (d *dispatcher) acceptLoop() {
	defer close(d.done)
	rc, err := d.file.SyscallConn()
	if err != nil {
		return
	}
	for {
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			aerr = d.acceptBatch(int(fd))
			return aerr != unix.EAGAIN
		})
		if err != nil {
			return // the file was closed
		}
		if aerr == unix.EMFILE || aerr == unix.ENFILE || aerr == unix.ENOBUFS || aerr == unix.ENOMEM {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (d *dispatcher) acceptBatch(lfd int) error {
	if d.keys != nil || d.ident != nil {
		return d.acceptKeyed(lfd)
	}
	for {
		fd, err := accept4(lfd)
		switch {
		case err == nil:
			d.route(fd, nil)
		case err == unix.EINTR || err == unix.ECONNABORTED:
		default:
			return err
		}
	}
}

// acceptKeyed is acceptBatch for Sticky and for identified connections:
// it takes each peer's address, then identifies or routes.
func (d *dispatcher) acceptKeyed(lfd int) error {
	for {
		fd, key, err := accept4Key(lfd)
		switch {
		case err == nil && d.ident != nil:
			d.identify(fd, key)
		case err == nil:
			d.routeKey(fd, key)
		case err == unix.EINTR || err == unix.ECONNABORTED:
		default:
			return err
		}
	}
}

// accept4 accepts a connection on the non-blocking listening socket lfd,
// non-blocking and close-on-exec; on Linux with a raw system call, which
// cannot block and so need not wake the Go runtime's monitor thread
// (sysport.Accept).
func accept4(lfd int) (int, error) { return sysport.Accept(lfd) }

// closeTaken closes the primary's copy of a connection a worker took,
// with a raw system call: with the worker holding its own, the close
// only drops a reference and does not block. (Only a worker that set
// SO_LINGER and closed its copy first could make this last close wait,
// as it would make Node's primary, whose close is synchronous too.) A
// plain syscall here measured 4-9 µs more per connection, most of it
// waking the runtime's monitor thread.
func closeTaken(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// route hands fd to the next worker other than skip, or parks it.
func (d *dispatcher) route(fd int, skip router) {
	w := d.pick(fd, skip)
	if w == nil {
		d.park(fd, skip)
		return
	}
	w.handOff(fd, d)
}

// handedOff takes worker w's outcome for fd: taken, the primary's copy
// is closed; else fd goes to another worker.
func (d *dispatcher) handedOff(fd int, w router, taken bool) {
	if taken {
		d.forget(fd)
		closeTaken(fd)
		return
	}
	d.route(fd, w)
}

// forget drops fd's sticky key before fd is closed.
func (d *dispatcher) forget(fd int) {
	if d.keys != nil {
		d.keys.forget(fd)
	}
}

// pick chooses a worker for fd: the next in turn, the least loaded, or
// the one its sticky key picks.
func (d *dispatcher) pick(fd int, skip router) router {
	set := *d.set.Load()
	n := len(set)
	if n == 0 || (n == 1 && set[0] == skip) {
		return nil
	}
	if d.keys != nil {
		return stickyPick(set, d.keys.key(fd), skip)
	}
	start := d.next.Add(1)
	if d.least {
		return leastLoaded(set, skip, start)
	}
	for i := uint64(0); ; i++ {
		if w := set[(start+i)%uint64(n)]; w != skip {
			return w
		}
	}
}

// leastLoaded returns the worker with the fewest open connections; ties
// go round-robin, scanning from start.
func leastLoaded(set []router, skip router, start uint64) router {
	var best router
	var min int64
	for i := range set {
		w := set[(start+uint64(i))%uint64(len(set))]
		if l := w.load(); w != skip && (best == nil || l < min) {
			best, min = w, l
		}
	}
	return best
}

// park keeps fd until a worker other than skip is routable. The routable
// set is published under d.mu (update), so a set that changed since pick
// read it is seen here, and no connection is parked after the update
// that would have sent it.
func (d *dispatcher) park(fd int, skip router) {
	d.mu.Lock()
	if set := *d.set.Load(); len(set) > 1 || (len(set) == 1 && set[0] != skip) {
		d.mu.Unlock()
		d.route(fd, skip)
		return
	}
	defer d.mu.Unlock()
	if len(d.pending) >= maxPending {
		d.forget(fd)
		unix.Close(fd)
		return
	}
	d.pending = append(d.pending, fd)
}

// update publishes the routable workers and sends them what was parked.
func (d *dispatcher) update(set []router) {
	d.mu.Lock()
	d.set.Store(&set)
	if len(set) == 0 {
		d.mu.Unlock()
		return
	}
	parked := d.pending
	d.pending = nil
	d.mu.Unlock()
	for _, fd := range parked {
		d.route(fd, nil)
	}
}

// stopAccepting stops the accept loop for good; the socket itself stays
// open, and parked connections wait for a worker (or close).
func (d *dispatcher) stopAccepting() {
	d.file.Close()
	<-d.done
}

// close stops accepting, waits for the connections being identified
// (each within its timeout), and closes every parked connection.
func (d *dispatcher) close() {
	d.file.Close()
	<-d.done
	if d.ident != nil {
		d.ident.wg.Wait()
	}
	d.mu.Lock()
	for _, fd := range d.pending {
		d.forget(fd)
		unix.Close(fd)
	}
	d.pending = nil
	d.mu.Unlock()
}

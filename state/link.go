package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/internal/statewire"
)

// link is the client end of a connection to a broker. Concurrent
// callers' requests share writes. The replies are read by whoever holds
// the read role: a call reads the socket itself when no one else does,
// as a client of a connection pool does (one wake-up per call rather
// than a reader goroutine's and then the caller's), hands the frames
// that are not its own to their calls and subscriptions, and passes the
// role on once it has its reply: to a waiting call, else, while there
// are subscriptions, to the pump goroutine, which reads their pushes
// when no call has taken the role for pumpDelay. The socket is a
// statewire.Sock: the holder waits for its reply in poll(2).
type link struct {
	sock *statewire.Sock
	in   *statewire.Reader // read by the holder of the read role only
	done chan struct{}     // closed when the connection is gone
	ids  atomic.Uint64     // request and subscription ids

	wmu     sync.Mutex
	wbuf    []byte // frames waiting to be written
	spare   []byte
	writing bool // a caller is writing wbuf out
	werr    error

	mu      sync.Mutex
	calls   map[uint64]*pending
	subs    map[uint64]pushee
	reader  *pending // the holder of the read role: a call, pumper, or nil
	gone    bool     // done is closed
	cause   error    // why, once gone: errLost, or the broker's bye
	pumpOn  chan struct{}
	pumping bool        // the pump goroutine was started
	pumpDue *time.Timer // gives the pump the read role when no call took it
	pumpSet bool        // pumpDue is set
	pumpWG  sync.WaitGroup

	interrupt func() // cuts short the wait of the holder of the read role
	waiting   sync.Pool
}

// pending is a call waiting for its reply.
type pending struct {
	id uint64
	c  chan *statewire.Response // its reply, or yourTurn
}

var (
	// yourTurn tells a waiting call that it holds the read role.
	yourTurn = new(statewire.Response)
	// pumper is link.reader while the pump holds the read role.
	pumper = new(pending)
	// errLost fails the calls of a link whose connection is gone.
	errLost = fmt.Errorf("%w: the connection to the store was lost", ErrClosed)
)

// pushee receives a subscription's pushes, in order.
type pushee interface {
	push(r *statewire.Response)
	end(err error)
}

// newLink makes a link of nc, which it owns; far says that the broker is
// in another process (the primary).
func newLink(nc net.Conn, far bool) (*link, error) {
	sock, err := statewire.NewSock(nc, far)
	if err != nil {
		nc.Close()
		return nil, err
	}
	l := &link{sock: sock, in: statewire.NewReader(sock, 64<<10), done: make(chan struct{}),
		calls: map[uint64]*pending{}, subs: map[uint64]pushee{}, pumpOn: make(chan struct{}, 1)}
	l.interrupt = sock.Interrupt
	return l, nil
}

// close closes the connection, fails the calls and ends the
// subscriptions, and waits for the pump to end.
func (l *link) close() {
	l.lost()
	l.pumpWG.Wait()
}

// lost marks the connection gone, closes it (which ends the wait of the
// holder of the read role), and ends every subscription.
func (l *link) lost() { l.lostBy(errLost) }

// lostBy is lost for cause, the error that calls and subscriptions get.
func (l *link) lostBy(cause error) {
	l.mu.Lock()
	if l.gone {
		l.mu.Unlock()
		return
	}
	l.gone, l.reader, l.cause = true, nil, cause
	if l.pumpDue != nil {
		l.pumpDue.Stop()
	}
	subs := l.subs
	l.subs = map[uint64]pushee{}
	l.mu.Unlock()
	l.sock.Close()
	close(l.done)
	for _, s := range subs {
		s.end(cause)
	}
}

// err is why the connection is gone (after done is closed).
func (l *link) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

// alive reports whether the connection is still up.
func (l *link) alive() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.gone
}

// byeError is the error of the broker's bye frame r.
func byeError(r *statewire.Response) error {
	return fmt.Errorf("%w (%w): %s", ErrEvicted, ErrClosed, r.Msg)
}

// call sends req (with a fresh id) and waits for its reply.
// A context already done is refused before anything is sent, so its error
// is certain rather than raced against a fast reply.
func (l *link) call(ctx context.Context, req *statewire.Request) (*statewire.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, _ := l.waiting.Get().(*pending)
	if p == nil {
		p = &pending{c: make(chan *statewire.Response, 1)}
	}
	p.id = l.ids.Add(1)
	req.ID = p.id
	l.mu.Lock()
	if l.gone {
		l.mu.Unlock()
		return nil, l.cause
	}
	l.calls[p.id] = p
	l.mu.Unlock()
	if err := l.write(req); err != nil {
		l.abandon(p)
		return nil, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	r, err := l.await(ctx, p)
	if err == nil {
		l.waiting.Put(p) // its channel is empty
	}
	return r, err
}

// await waits for p's reply: it reads the socket itself when it holds,
// or is given, the read role.
func (l *link) await(ctx context.Context, p *pending) (*statewire.Response, error) {
	l.mu.Lock()
	mine := l.reader == nil && !l.gone && l.calls[p.id] == p
	if mine {
		l.take(p)
	}
	l.mu.Unlock()
	for !mine {
		select {
		case r := <-p.c:
			if r != yourTurn {
				return r, nil
			}
			mine = true
		case <-ctx.Done():
			l.abandon(p)
			return nil, ctx.Err()
		case <-l.done:
			l.abandon(p)
			return nil, l.err()
		}
	}
	return l.serve(ctx, p)
}

// abandon forgets a call that will not wait for its reply, passing the
// read role on if it held it.
func (l *link) abandon(p *pending) {
	l.mu.Lock()
	if l.calls[p.id] == p {
		delete(l.calls, p.id)
	}
	if l.reader == p {
		l.passOn()
	}
	l.mu.Unlock()
}

// passOn gives the read role to a waiting call, else, while there are
// subscriptions, to the pump: after pumpDelay, unless a call takes it
// first. l.mu is held.
func (l *link) passOn() {
	l.reader = nil
	if l.gone {
		return
	}
	for _, p := range l.calls {
		l.reader = p
		p.c <- yourTurn // its channel is empty while it waits
		return
	}
	if len(l.subs) > 0 && !l.pumpSet {
		l.pumpSet = true
		if l.pumpDue == nil {
			l.pumpDue = time.AfterFunc(pumpDelay, l.startPump)
		} else {
			l.pumpDue.Reset(pumpDelay)
		}
	}
}

// pumpDelay is how long the read role stays free, for a call to take it,
// before the pump takes it to read the subscriptions' pushes. A worker
// that makes calls one after another reads the pushes in its calls,
// without the pump, and without handing its replies from the pump to it.
// The price: a push that comes right after a call may wait that long
// (about a millisecond in a process with nothing else to do, where Go's
// timers are that coarse) before it is read.
const pumpDelay = 50 * time.Microsecond

// startPump gives the pump the read role, if it is free.
func (l *link) startPump() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pumpSet = false
	if l.reader != nil || l.gone || len(l.subs) == 0 {
		return
	}
	l.reader = pumper
	if !l.pumping {
		l.pumping = true
		l.pumpWG.Add(1)
		go l.pump()
	}
	l.pumpOn <- struct{}{} // empty: the pump had not the role
}

// take gives the free read role to p. l.mu is held.
func (l *link) take(p *pending) {
	l.reader = p
	if l.pumpSet && l.pumpDue.Stop() {
		l.pumpSet = false
	}
}

// pump reads for the subscriptions whenever it is given the read role,
// until the connection is gone.
func (l *link) pump() {
	defer l.pumpWG.Done()
	for {
		select {
		case <-l.pumpOn:
			l.serve(context.Background(), pumper)
		case <-l.done:
			return
		}
	}
}

// serve reads and dispatches frames while p holds the read role: for a
// call, until its reply comes (or its ctx is done); for the pump, while
// there are subscriptions. ctx cuts short the wait by interrupting it;
// an interrupt that was meant for an earlier holder is ignored.
func (l *link) serve(ctx context.Context, p *pending) (*statewire.Response, error) {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, l.interrupt)
		defer stop()
	}
	for {
		r, err := l.next()
		if err == statewire.ErrInterrupted {
			if err := ctx.Err(); err != nil {
				l.abandon(p)
				return nil, err
			}
			continue
		}
		if err != nil {
			l.lostBy(causeOf(err))
			return nil, l.err()
		}
		if mine, stop := l.route(r, p); stop {
			return r, nil
		} else if mine {
			l.drain(p)
			return r, nil
		}
	}
}

// next reads and parses the next frame.
func (l *link) next() (*statewire.Response, error) {
	body, err := l.in.Next()
	if err != nil {
		return nil, err
	}
	r := new(statewire.Response)
	if err := statewire.ParseResponse(body, r); err != nil {
		return nil, err
	}
	if r.Type == statewire.TypeBye {
		return nil, byeError(r)
	}
	return r, nil
}

// causeOf is what the calls and subscriptions of a link that failed to
// read (err) get: the broker's reason after a bye, else errLost.
func causeOf(err error) error {
	if errors.Is(err, ErrEvicted) {
		return err
	}
	return errLost
}

// drain passes the read role on after p's reply. With no call waiting
// for the role, it first routes the frames already read, so that pushes
// that came with the reply do not wait for the pump (a waiting call
// routes them when it takes the role).
func (l *link) drain(p *pending) {
	l.mu.Lock()
	waiting := len(l.calls) > 0
	if waiting {
		l.passOn()
	}
	l.mu.Unlock()
	for !waiting && l.in.Ready() {
		r, err := l.next()
		if err != nil {
			l.lostBy(causeOf(err))
			return
		}
		l.route(r, p)
	}
	l.mu.Lock()
	if l.reader == p {
		l.passOn()
	}
	l.mu.Unlock()
}

// route hands r to its call or subscription, unless it is the reply p
// (the holder of the read role) waits for: then mine is true. The pump
// passes the role on (stop) as soon as calls are made (they read for
// themselves), or no subscription is left. A push is handed over before
// the role: a subscription's pushes keep their order.
func (l *link) route(r *statewire.Response, p *pending) (mine, stop bool) {
	l.mu.Lock()
	var to *pending
	var s pushee
	if r.Type == statewire.TypeReply {
		if to = l.calls[r.ID]; to != nil {
			delete(l.calls, r.ID)
		}
	} else {
		s = l.subs[r.Sub]
	}
	mine = to != nil && to == p
	l.mu.Unlock()
	switch {
	case mine:
		return true, false
	case to != nil:
		to.c <- r
		l.sock.Yield()
	case s != nil:
		s.push(r)
		l.sock.Yield()
	}
	if p == pumper {
		l.mu.Lock()
		if stop = to != nil || len(l.calls) > 0 || len(l.subs) == 0; stop {
			l.passOn()
		}
		l.mu.Unlock()
	}
	return false, stop
}

// tell sends req without waiting for its reply (which is then ignored).
func (l *link) tell(req *statewire.Request) {
	req.ID = l.ids.Add(1)
	l.write(req)
}

// write queues req's frame, and writes the queue out unless another
// caller is doing so already: concurrent requests share writes.
func (l *link) write(req *statewire.Request) error {
	l.wmu.Lock()
	if l.werr != nil {
		err := l.werr
		l.wmu.Unlock()
		return err
	}
	l.wbuf = statewire.AppendRequest(l.wbuf, req)
	if l.writing {
		l.wmu.Unlock()
		return nil
	}
	l.writing = true
	var failed error
	for len(l.wbuf) > 0 && l.werr == nil {
		buf := l.wbuf
		l.wbuf = l.spare[:0]
		l.wmu.Unlock()
		_, failed = l.sock.Write(buf)
		l.wmu.Lock()
		if cap(buf) <= 1<<20 {
			l.spare = buf[:0]
		}
		l.werr = failed
	}
	l.writing = false
	l.wmu.Unlock()
	if failed != nil {
		l.lost() // fails every waiting call
	}
	return failed
}

// addSub routes the pushes to subscription id to s.
func (l *link) addSub(id uint64, s pushee) {
	l.mu.Lock()
	l.subs[id] = s
	if l.reader == nil {
		l.passOn()
	}
	l.mu.Unlock()
}

func (l *link) removeSub(id uint64) {
	l.mu.Lock()
	delete(l.subs, id)
	l.mu.Unlock()
}

// sink turns a subscription's pushes into items of its feed, counting
// the pushes the broker dropped from the gaps in their numbers.
type sink[T any] struct {
	f    *feed[T]
	conv func(*statewire.Response) T
	last uint64
}

func (s *sink[T]) push(r *statewire.Response) {
	var lost uint64
	if r.Seq > s.last+1 {
		lost = r.Seq - s.last - 1
	}
	s.last = r.Seq
	s.f.put(s.conv(r), lost)
}

func (s *sink[T]) end(err error) { s.f.end(err) }

package state

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/herdhq/herd/internal/statewire"
)

// link is the client end of a connection to a broker: it writes requests
// (batching those of concurrent callers into one write), matches the
// replies to them, and hands pushes to their subscriptions.
type link struct {
	nc   net.Conn
	done chan struct{} // closed when the connection is gone
	ids  atomic.Uint64 // request and subscription ids

	wmu     sync.Mutex
	wbuf    []byte // frames waiting to be written
	spare   []byte
	writing bool // a caller is writing wbuf out
	werr    error

	mu    sync.Mutex
	calls map[uint64]chan *statewire.Response
	subs  map[uint64]pushee

	replies sync.Pool // the channels of calls that got their reply, for reuse
}

// pushee receives a subscription's pushes, in order.
type pushee interface {
	push(r *statewire.Response)
	end(err error)
}

func newLink(nc net.Conn) *link {
	l := &link{nc: nc, done: make(chan struct{}), calls: map[uint64]chan *statewire.Response{}, subs: map[uint64]pushee{}}
	go l.read()
	return l
}

// close closes the connection and waits for the reader to end.
func (l *link) close() {
	l.nc.Close()
	<-l.done
}

// read dispatches the broker's frames until the connection ends, then
// ends every subscription.
func (l *link) read() {
	defer l.lost()
	br := bufio.NewReaderSize(l.nc, 64<<10)
	var buf []byte
	for {
		body, err := statewire.ReadFrame(br, buf)
		if err != nil {
			return
		}
		r := new(statewire.Response)
		if statewire.ParseResponse(body, r) != nil {
			return
		}
		l.dispatch(r)
		buf = body[:0]
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
}

func (l *link) lost() {
	l.nc.Close()
	l.mu.Lock()
	subs := l.subs
	l.subs = map[uint64]pushee{}
	l.mu.Unlock()
	close(l.done)
	for _, s := range subs {
		s.end(fmt.Errorf("%w: the connection to the store was lost", ErrClosed))
	}
}

func (l *link) dispatch(r *statewire.Response) {
	l.mu.Lock()
	if r.Type == statewire.TypeReply {
		c := l.calls[r.ID]
		delete(l.calls, r.ID)
		l.mu.Unlock()
		if c != nil {
			c <- r
		}
		return
	}
	s := l.subs[r.Sub]
	l.mu.Unlock()
	if s != nil {
		s.push(r)
	}
}

// call sends req (with a fresh id) and waits for its reply.
// A context already done is refused before anything is sent, so its error
// is certain rather than raced against a fast reply.
func (l *link) call(ctx context.Context, req *statewire.Request) (*statewire.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req.ID = l.ids.Add(1)
	c, _ := l.replies.Get().(chan *statewire.Response)
	if c == nil {
		c = make(chan *statewire.Response, 1)
	}
	l.mu.Lock()
	l.calls[req.ID] = c
	l.mu.Unlock()
	if err := l.write(req); err != nil {
		l.forget(req.ID)
		return nil, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	select {
	case r := <-c:
		l.replies.Put(c)
		return r, nil
	case <-ctx.Done():
		l.forget(req.ID)
		return nil, ctx.Err()
	case <-l.done:
		l.forget(req.ID)
		return nil, fmt.Errorf("%w: the connection to the store was lost", ErrClosed)
	}
}

func (l *link) forget(id uint64) {
	l.mu.Lock()
	delete(l.calls, id)
	l.mu.Unlock()
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
	for len(l.wbuf) > 0 && l.werr == nil {
		buf := l.wbuf
		l.wbuf = l.spare[:0]
		l.wmu.Unlock()
		_, err := l.nc.Write(buf)
		l.wmu.Lock()
		if cap(buf) <= 1<<20 {
			l.spare = buf[:0]
		}
		if err != nil {
			l.werr = err
			l.nc.Close() // the reader ends, and fails every waiting call
		}
	}
	l.writing = false
	err := l.werr
	l.wmu.Unlock()
	return err
}

// addSub routes the pushes to subscription id to s.
func (l *link) addSub(id uint64, s pushee) {
	l.mu.Lock()
	l.subs[id] = s
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

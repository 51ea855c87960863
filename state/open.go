package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/statewire"
	"github.com/herdhq/herd/ipc"
)

// Open opens the store at rawURL:
//
//   - "embedded://": the store the cluster's primary holds, reached over
//     this worker's channel. Outside a cluster worker (a program run
//     alone, or the primary itself) it is a store in this process,
//     private to the returned Store.
//   - "redis://[user:password@]host:port[/db]" or "rediss://..." (TLS):
//     a Redis server, through go-redis; the query may hold go-redis's
//     options (dial_timeout=3s, pool_size=20, ...).
//   - "": the URL in HERD_STATE_URL (EnvURL), or "embedded://".
//
// Both take "buffer=N" in the query: how many messages a subscription or
// watch buffers for a slow reader (DefaultBuffer).
func Open(ctx context.Context, rawURL string) (Store, error) {
	if rawURL == "" {
		rawURL = os.Getenv(EnvURL)
	}
	if rawURL == "" {
		rawURL = "embedded://"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: bad URL: %w", err)
	}
	buffer, err := takeBuffer(u)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "embedded":
		if u.Host != "" || (u.Path != "" && u.Path != "/") || len(u.Query()) > 0 {
			return nil, fmt.Errorf("state: %s: embedded:// takes no host, path or option but buffer", u.Redacted())
		}
		return openEmbedded(buffer)
	case "redis", "rediss":
		return openRedis(ctx, u, buffer)
	}
	return nil, fmt.Errorf("state: %s: unknown scheme (want embedded://, redis:// or rediss://)", u.Redacted())
}

// takeBuffer removes the buffer option from u's query and returns it.
func takeBuffer(u *url.URL) (int, error) {
	q := u.Query()
	v := q.Get("buffer")
	if v == "" {
		return DefaultBuffer, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("state: %s: buffer must be a positive number", u.Redacted())
	}
	q.Del("buffer")
	u.RawQuery = q.Encode()
	return n, nil
}

// openEmbedded opens the primary's store in a worker, or a local one.
func openEmbedded(buffer int) (Store, error) {
	if !cluster.IsWorker() {
		return openLocal(buffer)
	}
	l, err := workerLink()
	if err != nil {
		return nil, err
	}
	return newEmbedded(l, buffer), nil
}

// handshakeTimeout bounds the wait for the primary's answer to connect.
const handshakeTimeout = 30 * time.Second

// workerLink is this worker's connection to the primary's store, asked
// for on the worker's channel the first time it is needed (the primary
// answers with a socket of its own). The worker has one channel for its
// whole life, so it has one link; every Store opened in the worker
// shares it.
var workerLink = sync.OnceValues(func() (*link, error) {
	ch := cluster.Channel()
	if ch == nil {
		return nil, fmt.Errorf("state: this worker has no channel to its primary")
	}
	answers := make(chan *ipc.Message, 1)
	err := cluster.HandleInternal(statewire.Cmd, func(m *ipc.Message) {
		select {
		case answers <- m:
		default:
			m.CloseHandle()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := ch.Send(statewire.Hello{Cmd: statewire.Cmd, Op: statewire.OpConnect, ID: 1}); err != nil {
		return nil, fmt.Errorf("state: asking the primary for the store: %w", err)
	}
	select {
	case m := <-answers:
		return welcomed(m)
	case <-ch.Done():
		return nil, fmt.Errorf("state: the channel to the primary closed: %w", ch.Err())
	case <-time.After(handshakeTimeout):
		return nil, fmt.Errorf("state: the primary did not answer in %s (is it a herd primary?)", handshakeTimeout)
	}
})

// welcomed makes the link from the primary's answer.
func welcomed(m *ipc.Message) (*link, error) {
	w, err := statewire.DecodeWelcome(m.Data)
	if err == nil && w.Err != "" {
		err = errors.New(w.Err)
	}
	nc, ok := m.Handle.(net.Conn)
	if err == nil && !ok {
		err = fmt.Errorf("the answer came without a socket")
	}
	if err != nil {
		m.CloseHandle()
		return nil, fmt.Errorf("state: the primary refused the embedded store: %w", err)
	}
	l, err := newLink(nc, true)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return l, nil
}

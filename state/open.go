package state

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/herdhq/herd/cluster"
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
	d := theDialer()
	if _, err := d.link(); err != nil {
		return nil, err
	}
	s := newEmbedded(nil, buffer)
	s.dial = d.link
	return s, nil
}

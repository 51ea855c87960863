// Package state is shared state for the workers of a herd cluster: keys
// and values with TTLs, atomic counters, compare-and-swap, publish/
// subscribe and key watches, behind one interface (Store) with two
// backends, so that an application moves from one machine to many by
// changing one URL:
//
//	st, err := state.Open(ctx, "")   // HERD_STATE_URL, else embedded://
//	n, err := st.Incr(ctx, "visits", 1)
//	msgs, err := st.Subscribe(ctx, "chat")
//
// # embedded://
//
// The cluster's primary holds the data (cluster.Run starts the store
// unless cluster.Config.State.Disabled). A worker asks the primary for a
// connection once, over its channel (cmd "NODE_HERD_STATE"), and gets a
// socket of its own: state traffic never waits behind the channel's other
// messages, and never runs on the primary's supervision loop. Because the
// data lives in the primary, it survives any worker's crash or restart: an
// operation that returned without error was applied, whatever happens to
// the worker next; a dead worker's subscriptions and watches are dropped
// with its socket.
//
// Memory is bounded (cluster.StateConfig), against a hostile worker too:
//
//   - 1,048,576 keys and 256 MiB of keys and values (plus 64 bytes per
//     key) by default, past which writes fail with ErrFull;
//   - values and payloads of MaxValueSize (8 MiB, or less: MaxValueSize
//     in the config), larger ones failing with ErrTooLarge;
//   - 4 connections per worker (a worker's Stores share one): asking for
//     more fails with ErrConnLimit; a worker's connections are closed when
//     it exits;
//   - per connection, 16,384 pushes or 16 MiB waiting to be written
//     (past them the oldest are dropped: ErrDropped notices), and 10,000
//     channels subscribed plus keys watched, with 4 MiB of names;
//   - 64 MiB of pushes waiting for all workers together (a message for
//     many subscribers counted once): a push past it evicts the
//     connections holding the most;
//   - a connection that takes nothing written to it for 10 seconds is
//     evicted.
//
// An evicted connection's pushes are freed at once, and its calls and
// subscriptions end with an error wrapping ErrEvicted (and ErrClosed)
// that says why, when it reads up to the store's last frame; the next
// call connects again.
//
// Outside a cluster worker (a program run alone, or the primary itself),
// embedded:// opens a store in the process, private to the returned
// Store, with the same semantics: a program runs alone unchanged, as
// cluster.Listen lets it.
//
// # redis:// and rediss://
//
// A Redis server (redis://[user:password@]host:port/db; rediss:// for
// TLS), through go-redis, for workers on several machines. The semantics
// are the same:
//
//   - Writes (Set, Delete, Incr, CompareAndSwap) are Lua scripts that
//     write and publish the change on the key's watch channel,
//     "herd:watch:DB:KEY", atomically: Watch sees every write made through
//     herd, with its value, in order. Expiry comes from Redis's keyspace
//     notifications, which the server sends only when its
//     notify-keyspace-events setting includes K and x (for example
//     "Kx"); herd never changes the server's configuration.
//   - CompareAndSwap is a script that compares and swaps atomically.
//   - Pub/sub channels are shared by all databases of a server, as Redis
//     has them; the names beginning with "herd:watch:" are herd's.
//   - Commands are not retried silently (a retried INCR could count
//     twice): an error from a lost connection is returned, and the next
//     call reconnects. Put max_retries=N in the URL to have go-redis retry.
//   - A subscription whose connection breaks delivers a notice
//     (Msg.Err wrapping ErrDropped, with the cause), reconnects with
//     backoff, and subscribes again: Redis does not keep what was published
//     meanwhile.
//
// # Slow readers
//
// A subscription (or watch) buffers up to DefaultBuffer messages for its
// reader ("buffer=N" in the URL changes it). When the buffer is full the
// oldest message is dropped, and the reader gets a notice where messages
// went missing: a Msg (or Change) whose Err wraps ErrDropped. Delivery
// never blocks the publisher, the primary, or other workers. In the
// embedded store, the primary's queue for a worker that stops reading
// its socket altogether is bounded the same way (drop-oldest), and its
// subscriptions report the gap.
//
// Keys and channel names are at most MaxKeySize bytes, values and
// payloads MaxValueSize bytes, in both backends.
package state

// herd's preload for Node.js cluster workers, loaded before the app with
// NODE_OPTIONS=--require (cluster/node_preload.go).
//
// When herd disconnects a worker (a rolling reload, a stop, a worker that
// leaves), Node's cluster code closes the worker's servers, and an HTTP
// server's close() destroys its idle keep-alive connections at once: a
// request that a client is sending on one of them at that moment fails.
// Here a server closed by a disconnect instead answers every further
// request with "Connection: close" (the client reconnects, to a worker that
// is not leaving), and closes the connections still idle after
// HERD_IDLE_GRACE_MS. Servers the app closes itself behave as Node's.
//
// The worker's own children get the NODE_OPTIONS the user gave herd
// (HERD_NODE_OPTIONS), without this preload: it is the worker's alone.
'use strict';
(function herdPreload() {
  const env = process.env;
  if ('HERD_NODE_OPTIONS' in env) {
    if (env.HERD_NODE_OPTIONS) env.NODE_OPTIONS = env.HERD_NODE_OPTIONS;
    else delete env.NODE_OPTIONS;
    delete env.HERD_NODE_OPTIONS;
  }
  const cluster = require('cluster');
  const grace = Number(process.env.HERD_IDLE_GRACE_MS);
  if (!cluster.isWorker || !(grace >= 0)) return;
  const draining = Symbol('herd.draining');
  const noop = function closeIdleConnectionsLater() {};

  function drain(server) {
    if (server[draining]) return;
    server[draining] = true;
    server.prependListener('request', (req, res) => { res.shouldKeepAlive = false; });
    // Node's close() calls closeIdleConnections() first: not yet. (Before
    // Node 18.2 there is none, and close() leaves idle connections open.)
    const closeIdle = server.closeIdleConnections;
    if (typeof closeIdle !== 'function') return;
    server.closeIdleConnections = noop;
    setTimeout(() => {
      server.closeIdleConnections = closeIdle;
      closeIdle.call(server);
    }, grace).unref();
  }

  for (const name of ['http', 'https']) {
    const proto = require(name).Server.prototype;
    const close = proto.close;
    proto.close = function close_(...args) {
      if (cluster.worker && cluster.worker.exitedAfterDisconnect) drain(this);
      return close.apply(this, args);
    };
  }
})();

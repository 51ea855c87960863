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
// herd marks a Node worker ready when its first server listens. One that
// makes no server is ready once its start has settled: here, a second
// after its main module ran and its last module load, with no net.Server
// (http, https, net, tls) made, this preload says so. An app that reads
// cluster.isPrimary (false under herd) is reported once: its primary
// branch does not run.
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
  if (!cluster.isWorker) return;
  watchStart();
  noticePrimaryCheck();
  const grace = Number(process.env.HERD_IDLE_GRACE_MS);
  if (!(grace >= 0)) return;
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

  // herdSay sends the primary one of the preload's messages.
  function herdSay(act) {
    if (process.connected) process.send({cmd: 'NODE_HERD_PRELOAD', act}, () => {});
  }

  // watchStart says "settled" once the app's start is over without a
  // server: startGrace after the main module ran and after the last
  // module load. A server made on the way (Fastify makes its own in
  // fastify(), and listens later) cancels it: herd waits for the listen.
  function watchStart() {
    const EventEmitter = require('events');
    const Module = require('module');
    const net = require('net');
    let server = false;
    let last = Date.now();
    const init = EventEmitter.init;
    const load = Module._load;
    const initHook = function herdInit(...args) {
      if (this instanceof net.Server) {
        server = true;
        restore(); // herd waits for the listen: nothing more to watch
      }
      return init.apply(this, args);
    };
    const loadHook = function herdLoad(...args) {
      last = Date.now();
      return load.apply(this, args);
    };
    EventEmitter.init = initHook;
    Module._load = loadHook;
    function restore() {
      if (EventEmitter.init === initHook) EventEmitter.init = init;
      if (Module._load === loadHook) Module._load = load;
    }
    function check() {
      if (server) return restore();
      const wait = last + 1000 - Date.now();
      if (wait > 0) return void setTimeout(check, wait).unref();
      restore();
      herdSay('settled');
    }
    setImmediate(() => {
      last = Date.now();
      setTimeout(check, 1000).unref();
    }).unref();
  }

  // noticePrimaryCheck reports the app's first read of cluster.isPrimary
  // or cluster.isMaster (Node's own code reads them too: not those).
  function noticePrimaryCheck() {
    const names = ['isPrimary', 'isMaster'];
    const values = names.map((n) => cluster[n]);
    function plain() {
      names.forEach((n, i) => Object.defineProperty(cluster, n,
        {value: values[i], writable: true, configurable: true, enumerable: true}));
    }
    names.forEach((n, i) => Object.defineProperty(cluster, n, {
      configurable: true, enumerable: true,
      get: function herdPrimaryCheck() {
        if (readByApp(herdPrimaryCheck)) {
          plain();
          herdSay('primaryCheck');
        }
        return values[i];
      },
      set: (v) => { values[i] = v; },
    }));
  }

  // readByApp reports whether the caller of fn is the app's code, not
  // Node's (node:net reads cluster.isPrimary on every listen).
  function readByApp(fn) {
    const o = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1;
    Error.captureStackTrace(o, fn);
    Error.stackTraceLimit = limit;
    const frame = String(o.stack).split('\n')[1] || '';
    return frame !== '' && !/\(node:|at node:/.test(frame);
  }
})();

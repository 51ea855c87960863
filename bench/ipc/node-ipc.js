'use strict';
// Node <-> Node counterpart of ipc/bench_test.go (BenchmarkIPC): a parent
// forks node-ipc-child.js with the json serialization and runs the same
// exchanges. One JSON line per test on stdout, named as the Go
// sub-benchmarks.
//
//   node node-ipc.js [test ...]       (default: all tests)
//   node node-ipc.js connector        (the TCP connector process)
//
// Environment: CONNECTOR, a shell command for the connector process (it
// gets BENCH_CONNECT_ADDR=host:port and stops when its stdin closes);
// default: this script in connector mode. SCALE multiplies the counts.
const { fork, spawn } = require('child_process');
const net = require('net');
const path = require('path');
const { newMsg, sendN } = require('./node-ipc-common');

const SMALL = 100;
const LARGE = 64 << 10;
const SCALE = Number(process.env.SCALE || 1);
const count = (n) => Math.max(1, Math.round(n * SCALE));
const now = () => Number(process.hrtime.bigint()) / 1e9;

// startChild forks the child; next() resolves with its next message.
function startChild() {
  const child = fork(path.join(__dirname, 'node-ipc-child.js'), [], { serialization: 'json' });
  const queue = [];
  let waiting = null;
  child.on('message', (m) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(m);
    } else {
      queue.push(m);
    }
  });
  child.next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => { waiting = r; }));
  child.stop = () => new Promise((r) => { child.once('exit', r); child.disconnect(); });
  return child;
}

function rate(test, n, size, sec) {
  const r = { test, n, sec, 'msgs/s': n / sec };
  if (size) r['MB/s'] = (n * (size + 1)) / sec / 1e6;
  return r;
}

// parent -> child: n messages, then wait for the child's count.
async function p2c(test, size, n) {
  const child = startChild();
  const t0 = now();
  child.send({ op: 'sink', n });
  await sendN(child.send.bind(child), n, size);
  const done = await child.next();
  const sec = now() - t0;
  await child.stop();
  if (done.got !== n) throw new Error(`${test}: child got ${done.got} of ${n}`);
  return rate(test, n, size, sec);
}

// child -> parent: the child sends n messages, the parent counts them.
async function c2p(test, size, n) {
  const child = startChild();
  const t0 = now();
  child.send({ op: 'source', n, size });
  for (let i = 0; i < n; i++) await child.next();
  const sec = now() - t0;
  await child.stop();
  return rate(test, n, size, sec);
}

// ping-pong: one 100-byte message in flight, n round trips after warm-up;
// cpu-µs is the CPU time of both processes per round trip.
async function pingpong(test, n, warm) {
  const child = startChild();
  const cpu = async () => {
    child.send({ op: 'cpu' });
    const c = await child.next();
    const u = process.cpuUsage();
    return c.cpu + u.user + u.system;
  };
  child.send({ op: 'echo', n: warm });
  const rtt = new Float64Array(n);
  let t0 = 0;
  for (let i = 0; i < warm; i++) {
    child.send(newMsg(i, SMALL));
    await child.next();
  }
  const c0 = await cpu();
  child.send({ op: 'echo', n });
  t0 = now();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    child.send(newMsg(i, SMALL));
    await child.next();
    rtt[i] = Number(process.hrtime.bigint() - s) / 1e3;
  }
  const sec = now() - t0;
  const c1 = await cpu();
  await child.stop();
  rtt.sort();
  return {
    test, n, sec, 'rtt/s': n / sec, 'p50-µs': rtt[n >> 1], 'p99-µs': rtt[Math.floor((n * 99) / 100)],
    'cpu-µs': (c1 - c0) / n,
  };
}

// startConnector runs the connector against addr; it returns stop().
function startConnector(addr) {
  const cmd = process.env.CONNECTOR || `"${process.execPath}" "${__filename}" connector`;
  const c = spawn('sh', ['-c', `exec ${cmd}`], {
    env: { ...process.env, BENCH_CONNECT_ADDR: addr },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  return () => new Promise((r) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.once('exit', () => { clearTimeout(t); r(); });
    c.stdin.end();
  });
}

// accept: the parent accepts n connections and passes each to the child
// (handles) or closes it (conns).
async function accept(test, n, pass) {
  const child = startChild();
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  if (pass) child.send({ op: 'handles', n });
  let accepted = 0;
  let t0 = 0;
  let closedAll;
  const allClosed = new Promise((r) => { closedAll = r; });
  server.on('connection', (sock) => {
    if (accepted === 0) t0 = now();
    if (++accepted > n) return sock.destroy();
    if (pass) child.send({ i: accepted }, sock);
    else sock.destroy();
    if (accepted === n && !pass) closedAll();
  });
  const stop = startConnector(`127.0.0.1:${server.address().port}`);
  if (pass) {
    const done = await child.next();
    if (done.got !== n) throw new Error(`${test}: child got ${done.got} of ${n}`);
  } else {
    await allClosed;
  }
  const sec = now() - t0;
  await stop();
  server.close();
  await child.stop();
  return { test, n, sec, 'conns/s': n / sec };
}

const tests = {
  'p2c/100B': () => p2c('p2c/100B', SMALL, count(200000)),
  'p2c/64KiB': () => p2c('p2c/64KiB', LARGE, count(3000)),
  'c2p/100B': () => c2p('c2p/100B', SMALL, count(200000)),
  'c2p/64KiB': () => c2p('c2p/64KiB', LARGE, count(3000)),
  pingpong: () => pingpong('pingpong', count(20000), count(2000)),
  handles: () => accept('handles', count(10000), true),
  conns: () => accept('conns', count(20000), false),
};

// connector keeps 50 connections to BENCH_CONNECT_ADDR open, reconnecting
// each one when the server closes it, until stdin closes.
function connector() {
  const [host, port] = process.env.BENCH_CONNECT_ADDR.split(':');
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    const s = net.connect(Number(port), host);
    s.on('error', () => {});
    s.on('close', () => setImmediate(connect));
    s.resume();
  };
  for (let i = 0; i < 50; i++) connect();
  process.stdin.on('end', () => { stopped = true; process.exit(0); });
  process.stdin.resume();
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === 'connector') return connector();
  for (const name of args.length ? args : Object.keys(tests)) {
    if (!tests[name]) throw new Error(`unknown test ${name}`);
    const r = await tests[name]();
    console.log(JSON.stringify({ impl: 'node', ...r }));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

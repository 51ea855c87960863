// N socket.io clients on the polling transport, for socketio_test.go.
// Usage: node client.js URL N addr|header. "addr": client i connects from
// 127.0.0.(i+2); "header": all from 127.0.0.1, with X-Forwarded-For
// 10.0.0.i. Each round (one per line on stdin, the first at once) waits
// until every client echoes (retrying while they reconnect), has client 0
// broadcast, asks for the count of sockets on all workers, and prints one
// JSON line: {round, echoed, pids, heard, sockets, errors}.
const http = require('http');
const readline = require('readline');
const { io } = require('socket.io-client');

const [url, n, mode] = [process.argv[2], +process.argv[3], process.argv[4]];
const errors = [];
const clients = [];
for (let i = 0; i < n; i++) {
  const header = mode === 'header';
  const agent = new http.Agent({ keepAlive: true, localAddress: header ? '127.0.0.1' : `127.0.0.${i + 2}` });
  const s = io(url, {
    transports: ['polling'], agent, forceNew: true, reconnectionDelay: 200, reconnectionDelayMax: 1000,
    extraHeaders: header ? { 'X-Forwarded-For': `10.0.0.${i + 1}` } : {},
  });
  s.heard = new Set();
  s.on('shouted', (v) => s.heard.add(v));
  s.on('connect_error', (e) => errors.length < 5 && errors.push(`${i}: ${e.message}`));
  clients.push(s);
}

async function echo(s, i, deadline) {
  for (;;) {
    try {
      return await s.timeout(2000).emitWithAck('echo', i);
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`client ${i}: no echo: ${e.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// count asks for the sockets of all workers until there are n (a reload's
// old workers may still hold sessions) or the deadline passes.
async function count(deadline) {
  for (;;) {
    const c = await clients[0].timeout(10000).emitWithAck('count').catch((e) => e.message);
    if (c === n || Date.now() > deadline) return c;
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function round(r) {
  const deadline = Date.now() + 20000;
  const pids = {};
  let echoed = 0;
  await Promise.all(clients.map(async (s, i) => {
    try {
      const a = await echo(s, i, deadline);
      if (a.v === i) { echoed++; pids[a.pid] = (pids[a.pid] || 0) + 1; }
    } catch (e) { errors.length < 5 && errors.push(e.message); }
  }));
  const token = `round-${r}`;
  clients[0].emit('shout', token);
  const until = Date.now() + 10000;
  while (Date.now() < until && clients.some((s) => !s.heard.has(token))) {
    await new Promise((res) => setTimeout(res, 50));
  }
  const heard = clients.filter((s) => s.heard.has(token)).length;
  const sockets = await count(Date.now() + 20000);
  console.log(JSON.stringify({ round: r, echoed, pids, heard, sockets, errors: errors.splice(0) }));
}

let r = 0;
let busy = round(r++);
readline.createInterface({ input: process.stdin }).on('line', () => { busy = busy.then(() => round(r++)); })
  .on('close', () => busy.then(() => { clients.forEach((s) => s.close()); process.exit(0); }));

'use strict';
// Summarizes a run.sh results folder (go-N.txt: `go test -bench` output;
// node-N.jsonl: node-ipc.js output) as a markdown table: median [min–max]
// over the rounds, and Go/Node as the ratio of the medians with the range
// of the per-round ratios.
//
//   node summarize.js DIR
const fs = require('fs');
const path = require('path');

// Each row: the Go sub-benchmark, the Node test it is compared with, the
// metric, and what exactly was measured on the Go side.
const ROWS = [
  ['p2c/100B', 'p2c/100B', 'msgs/s', 'one-way parent→child, 100 B JSON (101 B on the wire); Go: `Send(struct)` (encoding/json), 1 sender'],
  ['p2c/100B/raw', 'p2c/100B', 'msgs/s', 'same; Go: `Send(json.RawMessage)` pre-encoded, 1 sender'],
  ['p2c/100B/raw-4senders', 'p2c/100B', 'msgs/s', 'same; Go: pre-encoded, 4 sending goroutines'],
  ['p2c/100B/decode', 'p2c/100B', 'msgs/s', 'same as the first row, and the Go child also `json.Unmarshal`s each message into a struct'],
  ['p2c/64KiB', 'p2c/64KiB', 'MB/s', 'one-way parent→child, 64 KiB JSON; Go: `Send(struct)`'],
  ['c2p/100B', 'c2p/100B', 'msgs/s', 'one-way child→parent, 100 B; Go: `Send(struct)`, 1 sender'],
  ['c2p/64KiB', 'c2p/64KiB', 'MB/s', 'one-way child→parent, 64 KiB; Go: `Send(struct)`'],
  ['pingpong', 'pingpong', 'rtt/s', 'ping-pong, 1 message (100 B) in flight: round trips/s'],
  ['pingpong', 'pingpong', 'p50-µs', 'ping-pong round-trip time, median (lower is better)'],
  ['pingpong', 'pingpong', 'p99-µs', 'ping-pong round-trip time, 99th percentile (lower is better)'],
  ['pingpong', 'pingpong', 'cpu-µs', 'ping-pong, CPU time of both processes per round trip (lower is better)'],
  ['go1:pingpong', 'pingpong', 'p50-µs', 'same, with GOMAXPROCS=1 in both Go processes'],
  ['go1:pingpong', 'pingpong', 'p99-µs', 'same, 99th percentile, GOMAXPROCS=1'],
  ['go1:pingpong', 'pingpong', 'cpu-µs', 'same, CPU per round trip, GOMAXPROCS=1'],
  ['handles', 'handles', 'conns/s', 'TCP connections accepted and passed to the child (SendHandle, ACK awaited), child closes them'],
  ['go1:handles', 'handles', 'conns/s', 'same, with GOMAXPROCS=1 in both Go processes'],
  ['conns', 'conns', 'conns/s', 'baseline: TCP connections accepted and closed by the parent, nothing passed'],
];

function parseGo(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^BenchmarkIPC\/(\S+?)(-\d+)?\s+\d+\s+(.*)$/);
    if (!m) continue;
    const metrics = {};
    const f = m[3].trim().split(/\s+/);
    for (let i = 0; i + 1 < f.length; i += 2) metrics[f[i + 1]] = Number(f[i]);
    out[m[1]] = metrics;
  }
  return out;
}

function parseNode(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line);
    out[r.test] = r;
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function fmt(x) {
  if (x === undefined || Number.isNaN(x)) return '–';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(x >= 10 ? 1 : 2);
}

const stat = (xs) => (xs.length ? `${fmt(median(xs))} [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]` : '–');

function main() {
  const dir = process.argv[2];
  const files = fs.readdirSync(dir);
  const rounds = files.filter((f) => /^go-\d+\.txt$/.test(f)).map((f) => f.match(/\d+/)[0]).sort((a, b) => a - b);
  const read = (name) => (fs.existsSync(path.join(dir, name)) ? fs.readFileSync(path.join(dir, name), 'utf8') : '');
  const runs = rounds.map((r) => ({
    go: {
      ...parseGo(read(`go-${r}.txt`)),
      ...Object.fromEntries(Object.entries(parseGo(read(`go1-${r}.txt`))).map(([k, v]) => [`go1:${k}`, v])),
    },
    node: fs.existsSync(path.join(dir, `node-${r}.jsonl`))
      ? parseNode(fs.readFileSync(path.join(dir, `node-${r}.jsonl`), 'utf8')) : {},
  }));
  for (const [i, r] of rounds.entries()) runs[i].c = parseNode(read(`c-${r}.jsonl`));
  const load = path.join(dir, 'load.txt');
  const loads = fs.existsSync(load) ? fs.readFileSync(load, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]) : [];
  const machine = read('machine.txt').split('\n').filter((l) => /^(model name|nproc)/.test(l)).map((l) => l.replace(/\s*:\s*/, ': '));
  if (machine.length) console.log(`Machine: ${machine.join(', ')}.\n`);
  console.log(`${runs.length} interleaved rounds; median [min–max] over the rounds.` +
    (loads.length ? ` 1-minute load average at the start of each round: ${loads.join(', ')}.` : '') + '\n');
  console.log('| exchange (what was measured) | metric | Go ↔ Go (herd ipc) | Node ↔ Node (json) | Go/Node (ratio of medians [per-round range]) |');
  console.log('|---|---|---|---|---|');
  for (const [goTest, nodeTest, metric, what] of ROWS) {
    const g = runs.map((r) => r.go[goTest]?.[metric]).filter((x) => x !== undefined);
    const n = runs.map((r) => r.node[nodeTest]?.[metric]).filter((x) => x !== undefined);
    const per = runs.map((r) => r.go[goTest]?.[metric] / r.node[nodeTest]?.[metric]).filter((x) => Number.isFinite(x));
    const ratio = g.length && n.length ? `${(median(g) / median(n)).toFixed(2)}× [${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)}]` : '–';
    console.log(`| ${what} | ${metric} | ${stat(g)} | ${stat(n)} | ${ratio} |`);
  }
  floorTable(runs);
}

// floorTable prints the ping-pong against the C floor (floor.c), each
// ratio taken in its round.
function floorTable(runs) {
  const c = runs.map((r) => r.c?.pingpong).filter(Boolean);
  if (!c.length) return;
  console.log('\nPing-pong against the floor (floor.c: two C processes, blocking write/read on a socketpair), same rounds:\n');
  console.log('| | p50 µs | p99 µs | CPU µs per round trip | p50 / floor\'s | CPU / floor\'s |');
  console.log('|---|---|---|---|---|---|');
  const sides = [['C floor', (r) => r.c?.pingpong], ['Go ↔ Go (herd ipc)', (r) => r.go.pingpong],
    ['Go ↔ Go, GOMAXPROCS=1', (r) => r.go['go1:pingpong']], ['Node ↔ Node', (r) => r.node.pingpong]];
  for (const [name, get] of sides) {
    const col = (m) => runs.map((r) => get(r)?.[m]).filter((x) => x !== undefined);
    const ratio = (m) => {
      const per = runs.map((r) => get(r)?.[m] / r.c?.pingpong?.[m]).filter((x) => Number.isFinite(x));
      return per.length ? `${median(per).toFixed(2)}× [${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)}]` : '–';
    };
    console.log(`| ${name} | ${stat(col('p50-µs'))} | ${stat(col('p99-µs'))} | ${stat(col('cpu-µs'))} | ${ratio('p50-µs')} | ${ratio('cpu-µs')} |`);
  }
}

main();

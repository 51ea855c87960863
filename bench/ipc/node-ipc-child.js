'use strict';
// Child side of node-ipc.js: obeys one control message ({op, n, ...}) at a
// time, as ipc/bench_test.go's benchChild does, and reports {got: n}.
const { sendN } = require('./node-ipc-common');

let op = null;
let got = 0;

function finish() {
  process.send({ got });
  op = null;
}

function start(m) {
  if (m.op === 'cpu') {
    const u = process.cpuUsage();
    process.send({ cpu: u.user + u.system }); // µs
    return;
  }
  op = m;
  got = 0;
  if (op.op === 'source') {
    sendN(process.send.bind(process), op.n, op.size).then(() => { op = null; },
      (e) => { console.error(e); process.exit(1); });
  } else if (op.n === 0) {
    finish();
  }
}

process.on('message', (m, handle) => {
  if (op === null) {
    start(m);
    return;
  }
  if (handle) handle.destroy();
  got++;
  if (op.op === 'echo') {
    process.send(m);
    if (got === op.n) op = null;
    return;
  }
  if (got === op.n) finish();
});


'use strict';
// Shared by node-ipc.js and node-ipc-child.js.

const PAD = 'x'.repeat(64 << 10);

// newMsg returns {seq, pad} padded so that its JSON is size bytes, as
// newMsg in ipc/bench_test.go.
function newMsg(seq, size) {
  const n = size - '{"seq":,"pad":""}'.length - String(seq).length;
  return { seq, pad: PAD.slice(0, Math.max(n, 0)) };
}

// sendN sends n messages of size bytes with send (child.send or
// process.send), respecting backpressure: when send() returns false, the
// next message goes with a callback and the sender waits until it (and so
// everything queued before it) has been written.
async function sendN(send, n, size) {
  let i = 0;
  while (i < n) {
    const ok = send(newMsg(i++, size));
    if (!ok && i < n) {
      const msg = newMsg(i++, size);
      await new Promise((resolve, reject) => send(msg, (err) => (err ? reject(err) : resolve())));
    }
  }
}

module.exports = { newMsg, sendN };

// floor worker: takes net.Socket handles over Node's IPC, answers each as Node's cluster
// worker answers newconn ({ack, accepted}), and serves it with the bench app's handler.
const http = require('http');
const srv = http.createServer((q, s) => s.end('hello ' + process.pid));
let seq = 0;
process.on('message', (m, sock) => {
  if (!sock) return;
  process.send({ cmd: 'NODE_CLUSTER', ack: seq++, accepted: true });
  srv.emit('connection', sock);
});

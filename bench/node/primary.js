// Node's own cluster primary for herd's benchmarks: forks WORKERS (2)
// copies of app.js and forks a replacement when one dies, as a Node user
// writes it. The scheduling policy comes from NODE_CLUSTER_SCHED_POLICY
// (rr, Node's default, or none).
const cluster = require('cluster');
const path = require('path');
cluster.setupPrimary({ exec: path.join(__dirname, 'app.js') });
const n = +process.env.WORKERS || 2;
for (let i = 0; i < n; i++) cluster.fork();
cluster.on('exit', (w) => { if (!w.exitedAfterDisconnect) cluster.fork(); });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => {
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
  process.exit(0);
});

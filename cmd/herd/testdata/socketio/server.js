// An unmodified socket.io 4 app, as its documentation writes one for a
// cluster: the cluster adapter relays broadcasts between the workers
// (herd plays setupPrimary's part). It echoes, rebroadcasts "shout",
// and counts the sockets of all workers.
const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/cluster-adapter');

const httpServer = http.createServer();
const io = new Server(httpServer);
io.adapter(createAdapter());
io.on('connection', (socket) => {
  socket.on('echo', (v, ack) => ack({ v, pid: process.pid }));
  socket.on('shout', (v) => io.emit('shouted', v));
  socket.on('count', async (ack) => ack((await io.fetchSockets()).length)); // answers from every worker
});
httpServer.listen(+process.env.PORT);

// A Fastify app as its users write it, with a plugin that takes a while
// to start (a database connection, say): fastify() makes the server at
// once, and listen() waits for the plugins.
const fastify = require('fastify')();

fastify.register(async () => {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.PLUGIN_MS || 2000)));
});
fastify.get('/', async () => `fastify ${process.pid}\n`);
fastify.listen({port: Number(process.env.PORT), host: '127.0.0.1'}, (err) => {
  if (err) throw err;
});

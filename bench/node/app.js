// The Node app of herd's benchmarks, unmodified for every manager:
// herd run -n 2 -- node app.js, Node's cluster (primary.js), pm2 start -i 2.
require('http').createServer((q, s) => s.end('hello ' + process.pid)).listen(+process.env.PORT);

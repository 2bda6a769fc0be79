'use strict';
// The Node side of `scripts/bench-http.sh small` and `idle`: an http.createServer that answers
// every request with the same small body, read once from FILE at start (the 13 bytes nginx and
// `sluice serve` send from the file), with keep-alive. The keep-alive timeout is raised to
// 300 s, as in the nginx configuration of the benchmark, so idle connections stay open.
//
//   node bench/node/http-hello.js FILE PORT [HOST]
const fs = require('node:fs');
const http = require('node:http');

if (process.argv.length < 4 || process.argv.length > 5) {
  console.error('usage: node http-hello.js FILE PORT [HOST]');
  process.exit(2);
}
const body = fs.readFileSync(process.argv[2]);
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.keepAliveTimeout = 300_000;
server.headersTimeout = 310_000;
server.maxConnections = Infinity;
server.listen(Number(process.argv[3]), process.argv[4] || '127.0.0.1');

'use strict';
// The Node side of `scripts/bench-http.sh download` and `slow`: a static file server for one
// directory (GET and HEAD, keep-alive, no Range), each response streamed from the file
//
//   pipeline(fs.createReadStream(path), res)               (default)
//
// or, with --naive, the counter-example of Node's backpressure guide: every chunk read from the
// file is passed to res.write() at once, whatever it returns, so a slow client makes the server
// hold the rest of the file in memory.
//
//   node bench/node/http-file.js DIR PORT [--host 127.0.0.1] [--naive]
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pipeline } = require('node:stream');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, naive: { type: 'boolean' } },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  console.error('usage: node http-file.js DIR PORT [--host H] [--naive]');
  process.exit(2);
}
const root = path.resolve(positionals[0]);

function fail(res, status) {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

const server = http.createServer((req, res) => {
  const file = path.join(root, path.normalize(decodeURIComponent(req.url.split('?')[0])));
  if (!file.startsWith(root + path.sep)) return fail(res, 403);
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return fail(res, 404);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
    if (req.method === 'HEAD') return res.end();
    const source = fs.createReadStream(file);
    if (!values.naive) {
      pipeline(source, res, () => {}); // a client that goes away is not an error here
      return;
    }
    source.on('data', (chunk) => res.write(chunk)); // the return value is ignored on purpose
    source.on('end', () => res.end());
    source.on('error', () => res.destroy());
    res.on('close', () => source.destroy());
  });
});
server.keepAliveTimeout = 300_000;
server.headersTimeout = 310_000;
server.listen(Number(positionals[1]), values.host);

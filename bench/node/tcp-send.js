'use strict';
// The Node side of scripts/bench-tcp.sh: send a file over TCP the way the stream docs do,
//
//   pipeline(fs.createReadStream(FILE), net.connect(PORT, HOST))
//
// for comparison with `sluice run 'read FILE | tcp-connect HOST:PORT'` and `nc -N HOST PORT <
// FILE`. pipeline() ends the socket (a FIN after the last byte) and waits for it to finish; the
// process exits once the peer has closed too. Time and peak RSS are measured from outside.
//
//   node bench/node/tcp-send.js FILE HOST:PORT
const fs = require('node:fs');
const net = require('node:net');
const { pipeline } = require('node:stream');

if (process.argv.length !== 4) {
  console.error('usage: node tcp-send.js FILE HOST:PORT');
  process.exit(2);
}
const file = process.argv[2];
const at = process.argv[3].lastIndexOf(':');
const host = process.argv[3].slice(0, at);
const port = Number(process.argv[3].slice(at + 1));
pipeline(fs.createReadStream(file), net.connect(port, host), (err) => {
  if (err) {
    console.error(`tcp-send.js: ${err.message}`);
    process.exit(1);
  }
});

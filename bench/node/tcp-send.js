'use strict';
// The Node side of scripts/bench-tcp.sh: send a file over TCP the way the stream docs do,
//
//   pipeline(fs.createReadStream(FILE), net.connect(PORT, HOST))
//
// for comparison with `sluice run 'read FILE | tcp-connect HOST:PORT'` and `nc -N HOST PORT <
// FILE`. pipeline() ends the socket (a FIN after the last byte) and waits for it to finish; the
// process exits once the peer has closed too. Time and peak RSS are measured from outside.
//
// With --naive, the counter-example: every chunk read is passed to socket.write() at once,
// whatever it returns, so a receiver that stops reading makes the sender hold the rest of the
// file in memory (the control of `scripts/bench-tcp.sh stopped`: it shows the growth the
// benchmark looks for).
//
//   node bench/node/tcp-send.js FILE HOST:PORT [--naive]
const fs = require('node:fs');
const net = require('node:net');
const { pipeline } = require('node:stream');

const args = process.argv.slice(2);
const naive = args.includes('--naive');
const positionals = args.filter((a) => a !== '--naive');
if (positionals.length !== 2) {
  console.error('usage: node tcp-send.js FILE HOST:PORT [--naive]');
  process.exit(2);
}
const [file, address] = positionals;
const at = address.lastIndexOf(':');
const host = address.slice(0, at);
const port = Number(address.slice(at + 1));
const fail = (err) => {
  console.error(`tcp-send.js: ${err.message}`);
  process.exit(1);
};
if (!naive) {
  pipeline(fs.createReadStream(file), net.connect(port, host), (err) => err && fail(err));
} else {
  const socket = net.connect(port, host);
  const source = fs.createReadStream(file);
  socket.on('error', fail);
  source.on('error', fail);
  source.on('data', (chunk) => socket.write(chunk)); // the return value is ignored on purpose
  source.on('end', () => socket.end());
}

'use strict';
// The Node side of scripts/bench-cli.sh: gzip a file the way Node's backpressure guide does,
//
//   pipeline(fs.createReadStream(IN), zlib.createGzip({ level }), fs.createWriteStream(OUT))
//
// for comparison with `sluice gzip --level N IN -o OUT`. Time and peak RSS are measured from
// outside (/usr/bin/time -v).
//
//   node bench/node/gzip.js IN OUT [--level 6]
const fs = require('node:fs');
const zlib = require('node:zlib');
const { pipeline } = require('node:stream');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({
  options: { level: { type: 'string', default: '6' } },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  console.error('usage: node gzip.js IN OUT [--level N]');
  process.exit(2);
}
const [input, output] = positionals;
pipeline(
  fs.createReadStream(input),
  zlib.createGzip({ level: Number(values.level) }),
  fs.createWriteStream(output),
  (err) => {
    if (err) {
      console.error(`gzip.js: ${err.message}`);
      process.exit(1);
    }
  },
);

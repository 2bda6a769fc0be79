'use strict';
// The Node side of `sluice copy` in scripts/bench-cli.sh:
//
//   pipeline(fs.createReadStream(SRC), fs.createWriteStream(DST))
//
//   node bench/node/copy.js SRC DST
const fs = require('node:fs');
const { pipeline } = require('node:stream');

if (process.argv.length !== 4) {
  console.error('usage: node copy.js SRC DST');
  process.exit(2);
}
pipeline(fs.createReadStream(process.argv[2]), fs.createWriteStream(process.argv[3]), (err) => {
  if (err) {
    console.error(`copy.js: ${err.message}`);
    process.exit(1);
  }
});

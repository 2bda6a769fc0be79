'use strict';
// gzip.js with backpressure ignored, the guide's counter-example: every chunk read is written
// into the gzip stream at once, whatever write() returns, so the chunks queue in memory while
// zlib works through them. gzip's output still goes to the file with pipe().
//
//   node bench/node/gzip-nobp.js IN OUT [--level 6]
const fs = require('node:fs');
const zlib = require('node:zlib');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({
  options: { level: { type: 'string', default: '6' } },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  console.error('usage: node gzip-nobp.js IN OUT [--level N]');
  process.exit(2);
}
const [input, output] = positionals;
const gzip = zlib.createGzip({ level: Number(values.level) });
const out = fs.createWriteStream(output);
const source = fs.createReadStream(input);
const fail = (err) => {
  console.error(`gzip-nobp.js: ${err.message}`);
  process.exit(1);
};
source.on('error', fail);
gzip.on('error', fail);
out.on('error', fail);
source.on('data', (chunk) => {
  gzip.write(chunk); // the return value is ignored on purpose
});
source.on('end', () => gzip.end());
gzip.pipe(out);

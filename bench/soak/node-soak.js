// The Node.js side of scripts/soak.sh: stdin -> gzip -> gunzip -> a consumer held to RATE bytes
// a second -> stdout, with stream.pipeline (backpressure respected), run until killed.
'use strict';
const { pipeline, Transform } = require('node:stream');
const zlib = require('node:zlib');

const rate = Number(process.argv[2] || 1024 * 1024); // bytes a second
let next = 0; // when the next chunk may go on (ms, performance.now())

// Each chunk goes on once the time its bytes take at `rate` has passed, as sluice's throttle.
const throttle = new Transform({
  transform(chunk, _encoding, callback) {
    const now = performance.now();
    next = Math.max(next, now) + (chunk.length * 1000) / rate;
    setTimeout(() => callback(null, chunk), next - now);
  },
});

pipeline(process.stdin, zlib.createGzip(), zlib.createGunzip(), throttle, process.stdout, (err) => {
  if (err) {
    console.error('node-soak:', err.message);
    process.exitCode = 1;
  }
});

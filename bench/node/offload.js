'use strict';
// The offload benchmark (scripts/bench-offload.sh) in Node.js: SHA-256 of each CHUNK-byte chunk
// of SIZE bytes (slices of one generated buffer, as in `sluice-bench offload sha`) on worker
// threads, the digests folded on the main thread.
//
//   node bench/node/offload.js --mode pool  --size 1G --chunk 64K --workers 2 [--in-flight 8]
//   node bench/node/offload.js --mode naive --size 64M --chunk 64K
//
// pool:  a fixed pool of `workers` worker_threads fed through a Readable with backpressure: at
//        most `in-flight` chunks out (the reasonable way, what a pool package such as piscina
//        does); results in completion order.
// naive: the backpressure guide's §4.3 example: a new Worker per chunk, started from the
//        'data' handler with no bound (each copies its chunk); the run ends when every worker
//        has answered.
// Prints: RESULT node_offload mode=... mb_per_s=... seconds=...
const { parseArgs } = require('node:util');
const { Worker } = require('node:worker_threads');

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'pool' },
    size: { type: 'string', default: '1G' },
    chunk: { type: 'string', default: '64K' },
    workers: { type: 'string', default: '2' },
    'in-flight': { type: 'string', default: '8' },
  },
});

function bytes(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`not a size: ${s}`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
  return Number(m[1]) * mult;
}

const size = bytes(values.size);
const chunk = bytes(values.chunk);
const count = Math.floor(size / chunk);
const block = Buffer.alloc(chunk);
for (let i = 0; i < chunk; ++i) block[i] = ((i * 2654435761) >>> 13) & 0xff;

// The worker: one SHA-256 per message, the first 8 bytes of the digest back.
const workerCode = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (buf) => {
  parentPort.postMessage(createHash('sha256').update(buf).digest().readBigUInt64LE(0));
});`;

function report(mode, t0, done) {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (done !== count) throw new Error(`${done} digests, expected ${count}`);
  console.log(`RESULT node_offload mode=${mode} chunks=${count} ` +
              `mb_per_s=${(size / secs / 1e6).toFixed(1)} seconds=${secs.toFixed(3)}`);
}

function pool() {
  const n = Number(values.workers);
  const maxInFlight = Number(values['in-flight']);
  const workers = [];
  for (let i = 0; i < n; ++i) workers.push(new Worker(workerCode, { eval: true }));
  let sent = 0;
  let done = 0;
  let inFlight = 0;
  let next = 0;
  const t0 = process.hrtime.bigint();
  const pump = () => {
    while (sent < count && inFlight < maxInFlight) {
      const w = workers[next];
      next = (next + 1) % n;
      ++inFlight;
      ++sent;
      w.postMessage(block);  // structured clone: a copy per chunk, as Node does it
    }
  };
  for (const w of workers) {
    w.on('message', () => {
      --inFlight;
      if (++done === count) {
        report('pool', t0, done);
        for (const x of workers) x.terminate();
        return;
      }
      pump();
    });
    w.on('error', (e) => { console.error(e); process.exit(1); });
  }
  pump();
}

function naive() {
  let done = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; ++i) {
    // As on 'data' in the guide: a new Worker for this chunk, nothing waits for it.
    const w = new Worker(workerCode, { eval: true });
    w.on('message', () => {
      w.terminate();
      if (++done === count) report('naive', t0, done);
    });
    w.on('error', (e) => { console.error(e); process.exit(1); });
    w.postMessage(block);
  }
}

if (values.mode === 'pool') pool();
else if (values.mode === 'naive') naive();
else { console.error(`unknown --mode ${values.mode}`); process.exit(2); }

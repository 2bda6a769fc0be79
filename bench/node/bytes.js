'use strict';
// The bytes benchmark (docs/benchmarks.md) in Node.js, for comparison with
// `sluice-bench bytes`:
//
//   Readable (pushes one pre-allocated Buffer over and over) -> K PassThroughs
//     -> Writable (counts bytes)
//
// wired with stream.pipeline. Pushing a Buffer does not copy it, so, as in
// sluice, this measures the per-chunk cost of the streams. Every stream's
// highWaterMark is set to 64 KiB, sluice's default for byte streams (Node 20's
// default is 16 KiB; pass --hwm to change it). Prints the same
// `RESULT bytes gb_per_s=...` line as sluice-bench (GB = 1e9 bytes).
//
//   node bench/node/bytes.js [--size 1G] [--chunk 64K] [--stages K] [--repeat R] [--warmup W]
//                            [--hwm 64K]
const { Readable, PassThrough, Writable, pipeline } = require('node:stream');
const { parseArgs } = require('node:util');

// Digits with an optional binary K/M/G/T suffix (optionally followed by "i" and/or "B").
function parseSize(text) {
  const m = /^(\d+)(?:([kmgt])i?)?b?$/i.exec(text);
  if (!m) return undefined;
  const shift = { k: 10, m: 20, g: 30, t: 40 }[(m[2] || '').toLowerCase()] || 0;
  const v = Number(m[1]) * 2 ** shift;
  return Number.isSafeInteger(v) ? v : undefined;
}

function formatSize(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (u + 1 < units.length && bytes !== 0 && bytes % 1024 === 0) { bytes /= 1024; u++; }
  return `${bytes} ${units[u]}`;
}

function options() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', short: 's', default: '1G' },
      chunk: { type: 'string', short: 'c', default: '64K' },
      stages: { type: 'string', short: 'k', default: '3' },
      repeat: { type: 'string', short: 'r', default: '5' },
      warmup: { type: 'string', short: 'w', default: '1' },
      hwm: { type: 'string', default: '64K' },
    },
  });
  const size = (name, min) => {
    const v = parseSize(values[name]);
    if (v === undefined || v < min) {
      console.error(`bytes.js: --${name} must be a size >= ${min} (digits, optional K/M/G/T)`);
      process.exit(2);
    }
    return v;
  };
  const int = (name, min) => {
    const v = Number(values[name]);
    if (!Number.isSafeInteger(v) || v < min) {
      console.error(`bytes.js: --${name} must be an integer >= ${min}`);
      process.exit(2);
    }
    return v;
  };
  return {
    size: size('size', 1),
    chunk: size('chunk', 1),
    stages: int('stages', 0),
    repeat: int('repeat', 1),
    warmup: int('warmup', 0),
    hwm: size('hwm', 0),
  };
}

// One timed run; resolves to the elapsed seconds, rejects if the byte count is wrong.
function runOnce({ size, stages, hwm }, block) {
  return new Promise((resolve, reject) => {
    let produced = 0;
    let consumed = 0;
    const streams = [new Readable({
      highWaterMark: hwm,
      read() {
        while (produced < size) {
          const left = size - produced;
          const b = left >= block.length ? block : block.subarray(0, left);
          produced += b.length;
          if (!this.push(b)) return;
        }
        this.push(null);
      },
    })];
    for (let k = 0; k < stages; k++) streams.push(new PassThrough({ highWaterMark: hwm }));
    streams.push(new Writable({
      highWaterMark: hwm,
      write(b, _, cb) { consumed += b.length; cb(); },
    }));
    const start = process.hrtime.bigint();
    pipeline(...streams, (err) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (err) return reject(err);
      if (consumed !== size) {
        return reject(new Error(`wrong byte count: got ${consumed}, expected ${size}`));
      }
      resolve(seconds);
    });
  });
}

async function main() {
  const o = options();
  console.log(`node bytes: ${formatSize(o.size)} in ${formatSize(o.chunk)} chunks, ` +
              `${o.stages} passthroughs, hwm ${formatSize(o.hwm)}, ${o.repeat} runs ` +
              `(+${o.warmup} warm-up) (node ${process.version})`);
  const block = Buffer.alloc(o.chunk, 'x');  // allocated once, pushed over and over
  const chunks = Math.ceil(o.size / o.chunk);
  const times = [];
  for (let i = 0; i < o.warmup + o.repeat; i++) {
    const s = await runOnce(o, block);
    const warmUp = i < o.warmup;
    if (!warmUp) times.push(s);
    const label = warmUp ? `warm-up ${String(i + 1).padStart(2)}`
                         : `run     ${String(i + 1 - o.warmup).padStart(2)}`;
    console.log(`  ${label}: ${s.toFixed(3).padStart(8)} s ` +
                `${(o.size / s / 1e9).toFixed(2).padStart(9)} GB/s ` +
                `${(s * 1e9 / chunks).toFixed(1).padStart(9)} ns/chunk`);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const best = times[0];
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  console.log(`  best:           ${(o.size / best / 1e9).toFixed(2).padStart(9)} GB/s ` +
              `${(best * 1e9 / chunks).toFixed(1).padStart(9)} ns/chunk`);
  console.log(`  median:         ${(o.size / median / 1e9).toFixed(2).padStart(9)} GB/s ` +
              `${(median * 1e9 / chunks).toFixed(1).padStart(9)} ns/chunk`);
  console.log(`RESULT bytes gb_per_s=${(o.size / best / 1e9).toFixed(3)} ` +
              `median_gb_per_s=${(o.size / median / 1e9).toFixed(3)} ` +
              `ns_per_chunk=${(best * 1e9 / chunks).toFixed(1)} impl=node loop=node ` +
              `size=${o.size} chunk=${o.chunk} stages=${o.stages} hwm=${o.hwm} ` +
              `runs=${o.repeat} warmup=${o.warmup} node=${process.version}`);
}

main().catch((err) => {
  console.error(`bytes.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});

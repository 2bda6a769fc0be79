'use strict';
// The objmode benchmark (docs/benchmarks.md) in Node.js, for comparison with
// `sluice-bench objmode`:
//
//   Readable.from(0 .. N-1) -> K object-mode Transforms (x + 1) -> Writable (sum += x)
//
// wired with stream.pipeline, default highWaterMark (16 objects). Prints the same
// `RESULT objmode items_per_s=... ns_per_item_stage=...` line as sluice-bench.
//
//   node bench/node/objmode.js [--items N] [--stages K] [--repeat R] [--warmup W] [--hwm H]
const { Readable, Transform, Writable, pipeline } = require('node:stream');
const { parseArgs } = require('node:util');

function options() {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', short: 'n', default: '2000000' },
      stages: { type: 'string', short: 'k', default: '3' },
      repeat: { type: 'string', short: 'r', default: '5' },
      warmup: { type: 'string', short: 'w', default: '1' },
      hwm: { type: 'string' },
    },
  });
  const int = (name, min) => {
    const v = Number(values[name]);
    if (!Number.isSafeInteger(v) || v < min) {
      console.error(`objmode.js: --${name} must be an integer >= ${min}`);
      process.exit(2);
    }
    return v;
  };
  return {
    items: int('items', 1),
    stages: int('stages', 1),
    repeat: int('repeat', 1),
    warmup: int('warmup', 0),
    hwm: values.hwm === undefined ? undefined : int('hwm', 0),
  };
}

function* count(n) {
  for (let i = 0; i < n; i++) yield i;
}

// One timed run; resolves to the elapsed seconds, rejects if the sum is wrong.
function runOnce({ items, stages, hwm }) {
  return new Promise((resolve, reject) => {
    const hwmOpt = hwm === undefined ? {} : { highWaterMark: hwm };
    let sum = 0;
    const streams = [Readable.from(count(items), hwmOpt)];
    for (let k = 0; k < stages; k++) {
      streams.push(new Transform({
        objectMode: true,
        ...hwmOpt,
        transform(x, _, cb) { cb(null, x + 1); },
      }));
    }
    streams.push(new Writable({
      objectMode: true,
      ...hwmOpt,
      write(x, _, cb) { sum += x; cb(); },
    }));
    const start = process.hrtime.bigint();
    pipeline(...streams, (err) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (err) return reject(err);
      const want = items * (items - 1) / 2 + stages * items;
      if (sum !== want) return reject(new Error(`wrong sum: got ${sum}, expected ${want}`));
      resolve(seconds);
    });
  });
}

async function main() {
  const o = options();
  const hwmText = o.hwm === undefined ? '16 (default)' : String(o.hwm);
  console.log(`node objmode: ${o.items} items, ${o.stages} stages, hwm ${hwmText}, ` +
              `${o.repeat} runs (+${o.warmup} warm-up) (node ${process.version})`);
  const itemStages = o.items * o.stages;
  const times = [];
  for (let i = 0; i < o.warmup + o.repeat; i++) {
    const s = await runOnce(o);
    const warmUp = i < o.warmup;
    if (!warmUp) times.push(s);
    const label = warmUp ? `warm-up ${String(i + 1).padStart(2)}`
                         : `run     ${String(i + 1 - o.warmup).padStart(2)}`;
    console.log(`  ${label}: ${s.toFixed(3).padStart(8)} s ` +
                `${(o.items / s).toFixed(0).padStart(14)} items/s ` +
                `${(s * 1e9 / itemStages).toFixed(2).padStart(9)} ns/item/stage`);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const best = times[0];
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  console.log(`  best:           ${(o.items / best).toFixed(0).padStart(14)} items/s ` +
              `${(best * 1e9 / itemStages).toFixed(2).padStart(9)} ns/item/stage`);
  console.log(`  median:         ${(o.items / median).toFixed(0).padStart(14)} items/s ` +
              `${(median * 1e9 / itemStages).toFixed(2).padStart(9)} ns/item/stage`);
  console.log(`RESULT objmode items_per_s=${(o.items / best).toFixed(0)} ` +
              `ns_per_item_stage=${(best * 1e9 / itemStages).toFixed(3)} ` +
              `median_items_per_s=${(o.items / median).toFixed(0)} ` +
              `median_ns_per_item_stage=${(median * 1e9 / itemStages).toFixed(3)} ` +
              `impl=node loop=node items=${o.items} stages=${o.stages} ` +
              `hwm=${o.hwm === undefined ? 'default' : o.hwm} ` +
              `runs=${o.repeat} warmup=${o.warmup} ` +
              `node=${process.version}`);
}

main().catch((err) => {
  console.error(`objmode.js: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});

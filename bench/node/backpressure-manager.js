'use strict';
// The writable-streams tutorial's backpressure demo in Node.js, as the tutorial builds it, for
// comparison with examples/25-tutorial-backpressure-demo.cpp (scripts/bench-writers.sh, docs/benchmarks.md):
//
//   a slow writer (each write takes --write-ms, highWaterMark --hwm bytes) fed by a fast producer
//   of --chunks chunks of --chunk-size bytes, watched by a manager that wraps write() to see it
//   return false and listens for 'drain' (the tutorial's BackpressureManager: a timer per episode
//   for its timeout warning).
//
// --mode ignore: the producer ignores write()'s return value (as the tutorial's fast loop of
// writes does once its adaptive writer is left out); --mode respect: it waits for 'drain'.
// After --seconds the run stops (the slow writer is destroyed) and the script prints the episodes
// the manager saw, the most bytes the writer held (writableLength) and the process's peak RSS, as
// one `RESULT tutorial_manager ...` line.
//
//   node bench/node/backpressure-manager.js [--mode ignore|respect] [--chunks N]
//        [--chunk-size BYTES] [--write-ms MS] [--hwm BYTES] [--seconds S]
const { Writable } = require('node:stream');
const { EventEmitter } = require('node:events');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'ignore' },
    chunks: { type: 'string', default: '2000' },
    'chunk-size': { type: 'string', default: '65536' },
    'write-ms': { type: 'string', default: '100' },
    hwm: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '3' },
    'timeout-ms': { type: 'string', default: '1000' },
  },
});
const num = (k) => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`backpressure-manager.js: --${k} must be a number >= 0`);
    process.exit(2);
  }
  return v;
};
const mode = values.mode;
if (mode !== 'ignore' && mode !== 'respect') {
  console.error('backpressure-manager.js: --mode must be ignore or respect');
  process.exit(2);
}

// The tutorial's manager, reduced to what the demo uses: write() wrapped to catch a false
// return, 'drain' to end the episode, one setTimeout per episode for the timeout warning.
class Manager extends EventEmitter {
  constructor(timeoutMs) {
    super();
    this.timeoutMs = timeoutMs;
    this.state = new Map();
  }
  register(id, stream) {
    const st = { on: false, since: 0, episodes: 0, total: 0, timeouts: 0 };
    this.state.set(id, st);
    stream.on('drain', () => {
      if (!st.on) return;
      st.on = false;
      const d = Date.now() - st.since;
      st.total += d;
      this.emit('end', id, d);
    });
    const write = stream.write.bind(stream);
    stream.write = (chunk, enc, cb) => {
      const ok = write(chunk, enc, cb);
      if (!ok && !st.on) {
        st.on = true;
        st.since = Date.now();
        st.episodes++;
        this.emit('start', id, st.episodes);
        setTimeout(() => {
          if (st.on) {
            st.timeouts++;
            this.emit('timeout', id, Date.now() - st.since);
          }
        }, this.timeoutMs);
      }
      return ok;
    };
  }
}

const chunkSize = num('chunk-size');
let peakLength = 0;
const slow = new Writable({
  highWaterMark: num('hwm'),
  write(chunk, enc, cb) {
    setTimeout(cb, num('write-ms'));
  },
});
slow.on('error', () => {});
const m = new Manager(num('timeout-ms'));
m.register('slow-writer', slow);
m.on('start', (id, n) => console.log(`backpressure start: ${id}, episode ${n}`));
m.on('end', (id, d) => console.log(`backpressure end: ${id}, ${d} ms`));
m.on('timeout', (id, d) => console.log(`backpressure timeout: ${id}, ${d} ms so far`));

const chunk = Buffer.alloc(chunkSize, 120);
let written = 0;
function produce() {
  while (written < num('chunks')) {
    const ok = slow.write(Buffer.from(chunk));
    written++;
    peakLength = Math.max(peakLength, slow.writableLength);
    if (!ok && mode === 'respect') {
      slow.once('drain', produce);
      return;
    }
  }
}
produce();

setTimeout(() => {
  const st = m.state.get('slow-writer');
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    `after ${num('seconds')} s: ${written} chunks written, ${st.episodes} episodes, ` +
      `${st.timeouts} timeouts, most bytes held ${peakLength}, peak RSS ${rssMiB.toFixed(1)} MiB`);
  console.log(
    `RESULT tutorial_manager mode=${mode} written=${written} episodes=${st.episodes} ` +
      `timeouts=${st.timeouts} peak_buffered_bytes=${peakLength} peak_rss_mib=${rssMiB.toFixed(1)}`);
  slow.destroy();
  process.exit(0);
}, num('seconds') * 1000);

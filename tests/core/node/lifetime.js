'use strict';
// A chain of pipes held only at its ends: src.pipe(new PassThrough()).pipe(slowSink). Node keeps
// every stream of the chain alive until it is done (a pending callback keeps it reachable), so
// the sink gets every chunk and finishes. tests/core/pipe_lifetime_test.cpp pins sluice to this.
const { stream, log, later, main } = require('./lib');

function chain(objectMode, middles, sinkPace) {
  let i = 0;
  const src = new stream.Readable({
    objectMode,
    highWaterMark: 2,
    read() { this.push(i < 40 ? (objectMode ? i : `item ${i}\n`) : null); i++; },
  });
  let received = 0;
  const sink = new stream.Writable({
    objectMode,
    highWaterMark: 1,
    write(chunk, enc, cb) {
      received++;
      if (sinkPace === 'sync') cb();
      else if (sinkPace === 'tick') process.nextTick(cb);
      else later(() => later(() => cb()));
    },
  });
  sink.on('finish', () => log(`[sink] event finish after ${received} chunks`));
  sink.on('close', () => log('[sink] event close'));
  let tail = src;
  for (let m = 0; m < middles; m++) {
    tail = tail.pipe(new stream.PassThrough({ objectMode, highWaterMark: objectMode ? 1 : 1 }));
  }
  tail.pipe(sink);
}

const scenarios = {};
for (const mode of ['obj', 'bytes']) {
  for (const middles of [0, 1, 2, 3]) {
    for (const pace of ['sync', 'tick', 'slow']) {
      scenarios[`chain_${mode}_${middles}_${pace}`] = () => chain(mode === 'obj', middles, pace);
    }
  }
}

main(scenarios);

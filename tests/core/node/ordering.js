'use strict';
// Four orderings where sluice differs from Node 20 on purpose (docs/node-differences.md,
// "Orderings"). tests/core/ordering_test.cpp pins sluice's order and cites these traces.
const { stream, log, code, track, w, mkWritable, main } = require('./lib');

main({
  // Three synchronous writes with callbacks, end(cb), destroy(err).
  sync_writes_end_destroy: () => {
    const s = track(mkWritable({ objectMode: true, write: 'sync' }), '', ['finish', 'close', 'error']);
    w(s, 'a');
    w(s, 'b');
    w(s, 'c');
    s.end((err) => log(`end cb ${code(err)}`));
    const e = new Error('boom');
    e.code = 'EBOOM';
    s.destroy(e);
  },
  // Byte mode: a write completing synchronously without a callback, then end(), then a nextTick.
  bytes_sync_write_end_then_tick: () => {
    const s = track(mkWritable({ write: 'sync' }), '', ['finish', 'close']);
    w(s, 'x', false);
    s.end();
    log('end() returned');
    process.nextTick(() => log('tick queued after end'));
  },
  // A pipe into a highWaterMark-0 destination whose writes complete on the next tick.
  pipe_hwm0_tick: () => {
    let i = 0;
    const src = new stream.Readable({
      objectMode: true,
      highWaterMark: 16,
      read() { i++; this.push(i <= 4 ? i : null); },
    });
    track(src, 'src', ['pause', 'resume', 'end']);
    const dst = mkWritable({ objectMode: true, highWaterMark: 0, write: 'tick', name: 'dst' });
    track(dst, 'dst', ['drain', 'finish']);
    src.pipe(dst);
  },
  // The same slow highWaterMark-0 destination piped twice.
  pipe_twice_hwm0_tick: () => {
    let i = 0;
    const src = new stream.Readable({
      objectMode: true,
      highWaterMark: 2,
      read() { i++; this.push(i <= 2 ? i : null); },
    });
    track(src, 'src', ['pause', 'resume', 'end']);
    const dst = mkWritable({ objectMode: true, highWaterMark: 0, write: 'tick', name: 'dst' });
    track(dst, 'dst', ['drain', 'finish', 'unpipe']);
    src.pipe(dst);
    src.pipe(dst);
  },
});

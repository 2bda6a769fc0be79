'use strict';
const { stream, log, later, code, fmt, track, w, push, state, mkWritable, main } = require('./lib');

const SRC_EV = ['end', 'close', 'error', 'pause', 'resume'];
const DST_EV = ['drain', 'finish', 'close', 'error', 'pipe', 'unpipe'];

// Source that pushes 1..n synchronously from _read (one item per call), then EOF.
function mkSrc(n, opts = {}) {
  let i = 0;
  const r = new stream.Readable({
    objectMode: true,
    ...opts,
    read(size) {
      i++;
      log(`[src] hook read ${size}`);
      r.push(i <= n ? i : null);
    },
  });
  return r;
}

function trackDst(d, name = 'dst') {
  for (const ev of DST_EV) {
    d.on(ev, (x) => log(`[${name}] event ${ev}` + (ev === 'error' ? ' ' + code(x) : '')));
  }
  return d;
}

function counter(src, dst) {
  const c = { pause: 0, resume: 0, drain: 0 };
  src.on('pause', () => c.pause++);
  src.on('resume', () => c.resume++);
  dst.on('drain', () => c.drain++);
  dst.on('finish', () => log(`summary pause=${c.pause} resume=${c.resume} drain=${c.drain}`));
}

main({
  // Fast source, slow destination (objectMode hwm 2, write completes in setImmediate).
  slow_dest_10_items() {
    const src = track(mkSrc(10, { highWaterMark: 2 }), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, highWaterMark: 2, write: 'imm' }));
    counter(src, dst);
    src.pipe(dst);
  },

  // Same with the destination completing on nextTick.
  tick_dest_5_items() {
    const src = track(mkSrc(5, { highWaterMark: 2 }), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, highWaterMark: 2, write: 'tick' }));
    counter(src, dst);
    src.pipe(dst);
  },

  // Synchronous destination: no backpressure.
  sync_dest_3_items() {
    const src = track(mkSrc(3), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, highWaterMark: 2, write: 'sync' }));
    log(`pipe returns dst: ${src.pipe(dst) === dst}`);
  },

  // Destination already over its hwm before piping: source pauses at the first chunk.
  pipe_into_full_dest() {
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, highWaterMark: 1, write: 'hold' }));
    w(dst, 'pre', undefined, 'dst');
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    push(src, 'a', 'src'); push(src, 'b', 'src'); push(src, null, 'src');
    src.pipe(dst);
    later(() => { log('release held writes'); while (dst.pending.length) dst.pending.shift()(); });
    later(() => { log('release held writes'); while (dst.pending.length) dst.pending.shift()(); });
    later(() => { log('release held writes'); while (dst.pending.length) dst.pending.shift()(); });
  },

  // unpipe after the first chunk: source stops flowing, dest is not ended.
  unpipe() {
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, write: 'sync' }));
    src.pipe(dst);
    push(src, 'a', 'src');
    later(() => {
      log('unpipe');
      src.unpipe(dst);
      state(src, ['readableFlowing'], 'src');
      push(src, 'b', 'src');
      push(src, null, 'src');
    });
  },

  // Destination error: source is unpiped, not destroyed.
  dest_error_unpipes() {
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    const dst = trackDst(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`[dst] hook write ${c}`); cb(c === 'b' ? new Error('dfail') : null); },
    }));
    src.pipe(dst);
    push(src, 'a', 'src'); push(src, 'b', 'src'); push(src, 'c', 'src');
    later(() => { state(src, ['readableFlowing', 'readableLength', 'destroyed'], 'src'); });
  },

  // end: false keeps the destination open after the source ends.
  end_false() {
    const src = track(mkSrc(2), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, write: 'sync' }));
    src.pipe(dst, { end: false });
    src.on('end', () => later(() => { log('dst still writable'); state(dst, ['writableEnded'], 'dst'); dst.end('x'); }));
  },

  // Default end: source 'end' -> dest.end() -> finish.
  end_default_timing() {
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, write: 'sync', final: 'sync' }));
    src.pipe(dst);
    push(src, 'a', 'src'); push(src, null, 'src');
  },

  // Two destinations, one slow: the source waits for the slow one.
  two_dests_one_slow() {
    const src = track(mkSrc(4, { highWaterMark: 1 }), 'src', SRC_EV);
    const fast = trackDst(mkWritable({ name: 'fast', objectMode: true, highWaterMark: 1, write: 'sync' }), 'fast');
    const slow = trackDst(mkWritable({ name: 'slow', objectMode: true, highWaterMark: 1, write: 'imm' }), 'slow');
    src.pipe(fast);
    src.pipe(slow);
  },

  // Source destroyed mid-pipe: destination is not ended.
  src_destroyed_mid_pipe() {
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, write: 'sync' }));
    src.pipe(dst);
    push(src, 'a', 'src');
    later(() => { log('destroy src'); src.destroy(); });
    later(() => { state(dst, ['writableEnded', 'destroyed'], 'dst'); });
  },

  // pipe() into a destination that has already ended.
  pipe_into_ended_dest() {
    const dst = trackDst(mkWritable({ name: 'dst', objectMode: true, write: 'sync' }));
    dst.end();
    const src = track(new stream.Readable({ objectMode: true, read() {} }), 'src', SRC_EV);
    src.pipe(dst);
    push(src, 'a', 'src');
  },
});

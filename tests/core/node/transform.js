'use strict';
const { stream, log, later, code, fmt, track, onData, w, push, read, state, main } = require('./lib');

const ALL = ['prefinish', 'finish', 'end', 'close', 'error', 'drain'];
const endcb = (label) => (err) => log(`cb ${label} ${code(err)}`);

// Transform factory. mode: 'push' -> hook pushes upper-cased chunk then cb();
// 'cbval' -> cb(null, upper); 'tick' -> cb(null, upper) on nextTick.
// flush: undefined | 'sync' (pushes 'TAIL') | 'tick' (pushes 'TAIL' on nextTick)
function mkT({ mode = 'push', flush, ...opts } = {}) {
  const o = {
    ...opts,
    transform(chunk, enc, cb) {
      log(`hook transform ${fmt(chunk)}`);
      const v = fmt(chunk).toUpperCase();
      if (mode === 'push') { push(this, v); cb(); }
      else if (mode === 'cbval') cb(null, v);
      else process.nextTick(cb, null, v);
    },
  };
  if (flush) {
    o.flush = function (cb) {
      log('hook flush');
      if (flush === 'sync') { push(this, 'TAIL'); cb(); }
      else process.nextTick(() => { push(this, 'TAIL'); cb(); });
    };
  }
  return new stream.Transform(o);
}

main({
  // Hook pushes synchronously, then calls back. Consumer attached.
  push_in_hook() {
    const t = track(mkT({ objectMode: true, mode: 'push' }), null, ALL);
    onData(t);
    w(t, 'a'); w(t, 'b');
    t.end();
  },

  // Hook delivers the value through callback(null, value).
  callback_value() {
    const t = track(mkT({ objectMode: true, mode: 'cbval' }), null, ALL);
    onData(t);
    w(t, 'a'); w(t, 'b');
    t.end();
  },

  // Hook completes on nextTick.
  async_transform() {
    const t = track(mkT({ objectMode: true, mode: 'tick' }), null, ALL);
    onData(t);
    w(t, 'a'); w(t, 'b');
    t.end();
  },

  // No _flush: finish vs end ordering with a flowing consumer.
  finish_vs_end_no_flush() {
    const t = track(mkT({ objectMode: true, mode: 'cbval' }), null, ALL);
    onData(t);
    w(t, 'a');
    t.end(endcb('end'));
  },

  // Sync _flush pushes final data: ordering of flush data, finish and end.
  flush_sync_order() {
    const t = track(mkT({ objectMode: true, mode: 'cbval', flush: 'sync' }), null, ALL);
    onData(t);
    w(t, 'a');
    t.end(endcb('end'));
    log('end() returned');
  },

  // Async _flush.
  flush_tick_order() {
    const t = track(mkT({ objectMode: true, mode: 'cbval', flush: 'tick' }), null, ALL);
    onData(t);
    w(t, 'a');
    t.end(endcb('end'));
    log('end() returned');
  },

  // No consumer: 'finish' fires, 'end' waits until the data is read.
  finish_without_consumer() {
    const t = track(mkT({ objectMode: true, mode: 'cbval', flush: 'sync' }), null, ALL);
    w(t, 'a');
    t.end();
    later(() => { log('consume'); read(t); read(t); read(t); });
  },

  // readableHighWaterMark 1 and no consumer: the transform callback is held
  // and writes back up.
  backpressure_no_consumer() {
    const t = track(mkT({ objectMode: true, mode: 'cbval', readableHighWaterMark: 1, writableHighWaterMark: 2 }), null, ALL);
    for (const c of ['a', 'b', 'c', 'd', 'e']) {
      w(t, c);
      state(t, ['writableLength', 'readableLength']);
    }
    later(() => {
      log('read one');
      read(t);
      state(t, ['writableLength', 'readableLength']);
    });
    later(() => {
      log('start flowing');
      onData(t);
    });
  },

  // Transform error through callback(err).
  transform_error() {
    const t = track(new stream.Transform({
      objectMode: true,
      transform(c, e, cb) { log(`hook transform ${c}`); cb(c === 'b' ? new Error('tfail') : null, c); },
    }), null, ALL);
    onData(t);
    w(t, 'a'); w(t, 'b'); w(t, 'c');
  },

  // Transform error on nextTick.
  transform_error_tick() {
    const t = track(new stream.Transform({
      objectMode: true,
      transform(c, e, cb) { log(`hook transform ${c}`); process.nextTick(cb, new Error('tfail')); },
    }), null, ALL);
    onData(t);
    w(t, 'a'); w(t, 'b');
  },

  // Flush error.
  flush_error() {
    const t = track(new stream.Transform({
      objectMode: true,
      transform(c, e, cb) { cb(null, c); },
      flush(cb) { log('hook flush'); cb(new Error('ffail')); },
    }), null, ALL);
    onData(t);
    w(t, 'a');
    t.end(endcb('end'));
  },

  // One written chunk -> several pushes.
  split_chunks() {
    const t = track(new stream.Transform({
      readableObjectMode: true,
      transform(c, e, cb) {
        log(`hook transform ${fmt(c)}`);
        for (const ch of c.toString()) push(this, ch);
        cb();
      },
    }), null, ALL);
    onData(t);
    w(t, 'xyz');
    t.end();
  },

  // PassThrough basic.
  passthrough() {
    const p = track(new stream.PassThrough({ objectMode: true }), null, ALL);
    onData(p);
    w(p, 'a'); w(p, 'b');
    p.end('c');
  },

  // PassThrough objectMode hwm 2 without consumer: write returns.
  passthrough_backpressure() {
    const p = track(new stream.PassThrough({ objectMode: true, highWaterMark: 2 }), null, ALL);
    for (const c of ['a', 'b', 'c', 'd', 'e', 'f']) {
      w(p, c);
      state(p, ['writableLength', 'readableLength']);
    }
    later(() => { log('flowing'); onData(p); });
  },

  // Transform destroy(): one close.
  transform_destroy() {
    const t = track(mkT({ objectMode: true }), null, ALL);
    onData(t);
    w(t, 'a');
    t.destroy();
  },
});

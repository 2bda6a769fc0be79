'use strict';
const { stream, log, later, code, fmt, track, onData, w, push, state, main } = require('./lib');

const ALL = ['prefinish', 'finish', 'end', 'close', 'error', 'drain'];
const WS = ['writableEnded', 'writableFinished', 'readableEnded', 'destroyed'];

// Duplex with a sync write hook and a no-op read hook (pushes are manual).
function mkD(opts = {}) {
  return new stream.Duplex({
    objectMode: true,
    ...opts,
    read(n) { log(`hook read ${n}`); },
    write(c, e, cb) { log(`hook write ${fmt(c)}`); cb(); },
    final(cb) { log('hook final'); cb(); },
    destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
  });
}

main({
  // allowHalfOpen true (default): readable end leaves the writable side open.
  allow_half_open_true() {
    const d = track(mkD());
    onData(d);
    push(d, 'r1'); push(d, null);
    d.on('end', () => { log('in end'); state(d, WS); });
    later(() => {
      log('write after readable end');
      w(d, 'w1');
      d.end();
    });
  },

  // allowHalfOpen false: readable end -> writable end() called automatically.
  allow_half_open_false() {
    const d = track(mkD({ allowHalfOpen: false }));
    onData(d);
    push(d, 'r1'); push(d, null);
    d.on('end', () => { log('in end'); state(d, WS); process.nextTick(() => { log('nextTick queued in end'); state(d, WS); }); });
  },

  // allowHalfOpen false with a write issued after 'end' but before the auto end().
  allow_half_open_false_write_in_end() {
    const d = track(mkD({ allowHalfOpen: false }));
    onData(d);
    push(d, null);
    d.on('end', () => { w(d, 'late'); });
  },

  // allowHalfOpen false: writable finishing does NOT end the readable side.
  allow_half_open_false_writable_first() {
    const d = track(mkD({ allowHalfOpen: false }));
    onData(d);
    d.end();
    later(() => { log('push after finish'); push(d, 'r1'); push(d, null); });
  },

  // Close only after both sides are done (autoDestroy).
  close_after_both_sides() {
    const d = track(mkD());
    onData(d);
    d.end();
    later(() => { log('end readable'); push(d, null); });
  },

  // Per-side highWaterMark.
  per_side_hwm() {
    const d = track(new stream.Duplex({
      objectMode: true,
      readableHighWaterMark: 1,
      writableHighWaterMark: 3,
      read() {},
      write(c, e, cb) { log(`hook write ${c}`); process.nextTick(cb); },
    }), null, ALL);
    log(`readableHighWaterMark=${d.readableHighWaterMark} writableHighWaterMark=${d.writableHighWaterMark}`);
    push(d, 'a'); push(d, 'b');
    w(d, 'x'); w(d, 'y'); w(d, 'z');
  },

  // highWaterMark together with readableHighWaterMark: which wins.
  hwm_overrides_per_side() {
    const d = new stream.Duplex({ highWaterMark: 5, readableHighWaterMark: 1, writableHighWaterMark: 2, read() {}, write(c, e, cb) { cb(); } });
    log(`readableHighWaterMark=${d.readableHighWaterMark} writableHighWaterMark=${d.writableHighWaterMark}`);
  },

  // Per-side objectMode: bytes in, objects out.
  per_side_object_mode() {
    const d = track(new stream.Duplex({
      readableObjectMode: true,
      writableObjectMode: false,
      read() {},
      write(c, e, cb) { log(`hook write ${Buffer.isBuffer(c) ? 'buffer' : typeof c}:${fmt(c)}`); cb(); },
    }), null, ALL);
    log(`readableObjectMode=${d.readableObjectMode} writableObjectMode=${d.writableObjectMode}`);
    log(`readableHighWaterMark=${d.readableHighWaterMark} writableHighWaterMark=${d.writableHighWaterMark}`);
    onData(d);
    push(d, 42);
    w(d, 'ab');
  },

  // destroy(err) on a duplex: one error, one close; both sides destroyed.
  destroy_duplex() {
    const d = track(mkD(), null, ALL);
    onData(d);
    w(d, 'a');
    d.destroy(new Error('dboom'));
    state(d, ['destroyed', 'errored', 'writableEnded', 'readableEnded']);
  },

  // destroy() without error: close only, no end/finish.
  destroy_duplex_no_error() {
    const d = track(mkD(), null, ALL);
    onData(d);
    push(d, 'r1');
    d.destroy();
  },

  // Write error on a duplex: readable side is errored too.
  write_error_duplex() {
    const d = track(new stream.Duplex({
      objectMode: true,
      read() {},
      write(c, e, cb) { log(`hook write ${c}`); process.nextTick(cb, new Error('wfail')); },
    }), null, ALL);
    onData(d);
    w(d, 'a');
    later(() => state(d, ['destroyed', 'errored', 'readableEnded']));
  },

  // readable: false option: a write-only duplex.
  readable_false_option() {
    const d = track(new stream.Duplex({
      readable: false,
      write(c, e, cb) { log(`hook write ${fmt(c)}`); cb(); },
    }), null, ALL);
    log(`readable=${d.readable} readableEnded=${d.readableEnded}`);
    w(d, 'x');
    d.end();
  },
});

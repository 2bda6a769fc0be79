'use strict';
const { stream, log, later, code, track, w, state, mkWritable, main } = require('./lib');

const S = ['destroyed', 'errored', 'writableLength'];
const endcb = (label) => (err) => log(`cb ${label} ${code(err)}`);

// Writable whose _destroy hook logs and completes synchronously.
function mkW(opts) {
  const s = mkWritable(opts);
  s._destroy = function (err, cb) { log(`hook destroy ${code(err)}`); cb(err); };
  return s;
}

main({
  // destroy() with one write in flight (held) and two buffered; the held
  // write is completed afterwards from a setImmediate.
  destroy_with_queued_writes() {
    const s = track(mkW({ objectMode: true, write: 'hold' }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    s.destroy();
    log('destroy() returned');
    state(s, S);
    later(() => { log('complete held write a'); s.pending.shift()(); });
  },

  // destroy(err) with one in-flight write (hook completes on nextTick) and
  // two buffered writes.
  destroy_err_with_queued_writes() {
    const s = track(mkW({ objectMode: true, write: 'tick' }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    s.destroy(new Error('boom'));
    log('destroy() returned');
    state(s, S);
  },

  // destroy() (no error) with buffered writes and a pending end() callback.
  destroy_with_pending_end_cb() {
    const s = track(mkW({ objectMode: true, write: 'hold' }));
    w(s, 'a'); w(s, 'b');
    s.end(endcb('end'));
    s.destroy();
    log('destroy() returned');
    later(() => { log('complete held write a'); s.pending.shift()(); });
  },

  // destroy(err) with a pending end() callback.
  destroy_err_with_pending_end_cb() {
    const s = track(mkW({ objectMode: true, write: 'hold' }));
    w(s, 'a'); w(s, 'b');
    s.end(endcb('end'));
    s.destroy(new Error('boom'));
    later(() => { log('complete held write a'); s.pending.shift()(); });
  },

  // Same, but the held write is never completed: the callbacks stay pending.
  destroy_with_held_write_never_completed() {
    const s = track(mkW({ objectMode: true, write: 'hold' }));
    w(s, 'a'); w(s, 'b');
    s.end(endcb('end'));
    s.destroy();
  },

  // Two destroy() calls with different errors: the first wins, the second
  // does not call _destroy again.
  destroy_twice_two_errors() {
    const s = track(mkW({ objectMode: true }));
    s.destroy(new Error('first'));
    s.destroy(new Error('second'));
    state(s, S);
  },

  // destroy() then destroy(err).
  destroy_then_destroy_err() {
    const s = track(mkW({ objectMode: true }));
    s.destroy();
    s.destroy(new Error('late'));
    state(s, S);
  },

  // destroy(err) from inside the write hook, cb never called.
  destroy_inside_write_hook() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); this.destroy(new Error('inhook')); log('destroy returned in hook'); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    w(s, 'a'); w(s, 'b');
  },

  // destroy() inside the write hook, then the hook calls cb() synchronously.
  destroy_inside_write_hook_then_cb() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); this.destroy(); cb(); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    w(s, 'a'); w(s, 'b');
  },

  // destroy() before the async _construct finishes: _destroy waits.
  destroy_before_construct_done() {
    const s = track(new stream.Writable({
      construct(cb) { log('hook construct'); process.nextTick(() => { log('construct done'); cb(); }); },
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    w(s, 'a');
    s.destroy(new Error('early'));
    state(s, S);
  },

  // Write hook fails synchronously (cb(err) inside the hook), with a buffered write behind it.
  write_hook_error_sync() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); cb(new Error(`fail-${c}`)); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    w(s, 'a');
    state(s, S);
    w(s, 'b');
  },

  // Write hook fails on nextTick, two writes buffered behind it.
  write_hook_error_tick() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); process.nextTick(cb, new Error(`fail-${c}`)); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
  },

  // Write hook error with autoDestroy: false: no destroy/close, stream errored.
  write_hook_error_no_autodestroy() {
    const s = track(new stream.Writable({
      objectMode: true,
      autoDestroy: false,
      write(c, e, cb) { log(`hook write ${c}`); process.nextTick(cb, new Error(`fail-${c}`)); },
    }));
    w(s, 'a'); w(s, 'b');
    later(() => { state(s, S); w(s, 'c'); });
  },

  // _final fails synchronously.
  final_error_sync() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      final(cb) { log('hook final'); cb(new Error('finalfail')); },
    }));
    s.end(endcb('end'));
    log('end() returned');
  },

  // _final fails on nextTick.
  final_error_tick() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      final(cb) { log('hook final'); process.nextTick(cb, new Error('finalfail')); },
    }));
    s.end(endcb('end'));
    log('end() returned');
  },

  // _final throws.
  final_throws() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      final() { log('hook final'); throw new Error('thrown'); },
    }));
    s.end(endcb('end'));
  },

  // Write hook calls its callback twice (synchronously).
  write_cb_twice_sync() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); cb(); cb(); },
    }));
    w(s, 'a');
  },

  // Write hook calls its callback twice (second on nextTick).
  write_cb_twice_tick() {
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); cb(); process.nextTick(cb); },
    }));
    w(s, 'a');
  },

  // _final calls its callback twice.
  final_cb_twice() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      final(cb) { log('hook final'); cb(); cb(); },
    }));
    s.end();
  },

  // write() after destroy() (no error): callback code, and no 'error' event?
  write_after_destroy() {
    const s = track(mkW({ objectMode: true }));
    s.destroy();
    w(s, 'x');
    state(s, S);
  },

  // write() after destroy(err).
  write_after_destroy_err() {
    const s = track(mkW({ objectMode: true }));
    s.destroy(new Error('boom'));
    w(s, 'x');
  },

  // end(cb) after destroy().
  end_after_destroy() {
    const s = track(mkW({ objectMode: true }));
    s.destroy();
    s.end(endcb('end'));
  },

  // end(cb) after destroy(err).
  end_after_destroy_err() {
    const s = track(mkW({ objectMode: true }));
    s.destroy(new Error('boom'));
    s.end(endcb('end'));
  },

  // end(cb) after 'close' of a destroyed stream.
  end_after_destroy_close() {
    const s = track(mkW({ objectMode: true }));
    s.destroy();
    s.on('close', () => later(() => { log('late end'); s.end(endcb('end')); }));
  },

  // _destroy completes asynchronously (nextTick): close follows.
  async_destroy_hook() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); process.nextTick(() => { log('destroy hook done'); cb(err); }); },
    }));
    s.destroy(new Error('boom'));
    log('destroy() returned');
  },

  // _destroy swallows the error (cb(null)): no 'error' event.
  destroy_hook_swallows_error() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(null); },
    }));
    s.destroy(new Error('boom'));
    state(s, S);
  },

  // _destroy replaces the error.
  destroy_hook_replaces_error() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(new Error('replaced')); },
    }));
    s.destroy(new Error('boom'));
  },

  // destroy(err) after 'finish' with autoDestroy: false.
  destroy_err_after_finish() {
    const s = track(mkW({ autoDestroy: false }));
    s.end();
    s.on('finish', () => later(() => { log('late destroy'); s.destroy(new Error('late')); }));
  },

  // destroy() while an async _final is in progress.
  destroy_during_final() {
    const s = track(new stream.Writable({
      write(c, e, cb) { cb(); },
      final(cb) { log('hook final'); later(() => { log('final done'); cb(); }); },
      destroy(err, cb) { log(`hook destroy ${code(err)}`); cb(err); },
    }));
    s.end(endcb('end'));
    process.nextTick(() => { log('destroy'); s.destroy(); });
  },

  // Readable: destroy() with buffered data -> no 'end', close only.
  readable_destroy_with_buffer() {
    const r = track(new stream.Readable({ objectMode: true, read() {} }));
    r.push('a'); r.push('b');
    r.destroy();
    state(r, ['readableLength', 'destroyed']);
  },

  // Readable: destroy(err) while flowing.
  readable_destroy_err_flowing() {
    const r = track(new stream.Readable({ objectMode: true, read() {} }));
    r.on('data', (c) => { log(`event data ${c}`); if (c === 'b') r.destroy(new Error('stop')); });
    r.push('a'); r.push('b'); r.push('c');
  },

  // Readable: push() after destroy() returns false and is ignored.
  readable_push_after_destroy() {
    const r = track(new stream.Readable({ objectMode: true, read() {} }));
    r.destroy();
    log(`push(a) -> ${r.push('a')}`);
    state(r, ['readableLength', 'destroyed', 'errored']);
  },
});

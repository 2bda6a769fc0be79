'use strict';
const { log, track, w, state, mkWritable, main } = require('./lib');

const S = ['writableLength', 'writableCorked'];

main({
  // cork, 3 writes, uncork -> one _writev with 3 chunks.
  cork_three_uncork() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync' }));
    s.cork();
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    state(s, S);
    s.uncork();
    log('-- after uncork');
    state(s, S);
  },

  // Same with a hook completing on nextTick.
  cork_three_uncork_tick() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'tick' }));
    s.cork();
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    s.uncork();
    log('-- after uncork');
  },

  // cork twice: first uncork does nothing, second flushes.
  nested_cork() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync' }));
    s.cork(); s.cork();
    w(s, 'a'); w(s, 'b');
    state(s, S);
    s.uncork();
    log('-- after uncork 1');
    state(s, S);
    s.uncork();
    log('-- after uncork 2');
    state(s, S);
  },

  // Extra uncork() when not corked is a no-op.
  uncork_not_corked() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync' }));
    s.uncork();
    state(s, S);
    w(s, 'a');
  },

  // end() while corked (twice) flushes everything and ends.
  end_while_corked() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync', final: 'sync' }));
    s.cork(); s.cork();
    w(s, 'a'); w(s, 'b');
    s.end('c');
    log('-- after end');
    state(s, S);
  },

  // Only one chunk buffered: _write is used, not _writev.
  writev_single_chunk() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync' }));
    s.cork();
    w(s, 'a');
    s.uncork();
    log('-- after uncork');
  },

  // No _writev: corked chunks are flushed one _write at a time.
  cork_without_writev() {
    const s = track(mkWritable({ objectMode: true, write: 'sync' }));
    s.cork();
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    s.uncork();
    log('-- after uncork');
  },

  // No _writev, async _write: chunks after the first stay buffered.
  cork_without_writev_tick() {
    const s = track(mkWritable({ objectMode: true, write: 'tick' }));
    s.cork();
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    s.uncork();
    log('-- after uncork');
    state(s, S);
  },

  // Writes buffered behind an in-flight async write are batched into _writev.
  writev_from_backlog() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'tick' }));
    w(s, 'a'); w(s, 'b'); w(s, 'c'); w(s, 'd');
  },

  // Write returns under cork: backpressure still counts corked chunks.
  cork_backpressure() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 2, writev: true, write: 'sync' }));
    s.cork();
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    state(s, ['writableLength', 'writableNeedDrain']);
    s.uncork();
    log('-- after uncork');
    state(s, ['writableLength', 'writableNeedDrain']);
  },

  // cork() then uncork() on nextTick (the documented pattern).
  uncork_on_next_tick() {
    const s = track(mkWritable({ objectMode: true, writev: true, write: 'sync' }));
    s.cork();
    w(s, 'a'); w(s, 'b');
    process.nextTick(() => { log('uncork in nextTick'); s.uncork(); });
  },

  // _writev fails: every chunk's callback gets the error, then 'error'.
  writev_error() {
    const { stream } = require('./lib');
    const s = track(new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
      writev(chunks, cb) { log(`hook writev ${chunks.length}`); cb(new Error('vfail')); },
    }));
    s.cork();
    w(s, 'a'); w(s, 'b');
    s.uncork();
    log('-- after uncork');
  },
});

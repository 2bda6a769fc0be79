'use strict';
const { log, later, track, w, state, mkWritable, main } = require('./lib');

const S = ['writableLength', 'writableNeedDrain'];

main({
  // objectMode hwm 3, write hook completes synchronously: 4 writes.
  sync_hook_obj_hwm3() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 3, write: 'sync' }));
    for (const c of ['a', 'b', 'c', 'd']) { w(s, c); state(s, S); }
  },

  // objectMode hwm 1, sync hook: each write alone reaches hwm -> false.
  // Shows whether drain comes before or after the (deferred) write callbacks.
  sync_hook_obj_hwm1_drain_vs_cb() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 1, write: 'sync' }));
    w(s, 'a'); state(s, S);
    w(s, 'b'); state(s, S);
    w(s, 'c'); state(s, S);
  },

  // objectMode hwm 2, write hook completes on process.nextTick.
  tick_hook_obj_hwm2() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 2, write: 'tick' }));
    w(s, 'a'); state(s, S);
    w(s, 'b'); state(s, S);
    w(s, 'c'); state(s, S);
    s.on('drain', () => state(s, S));
  },

  // Same, but the hook completes via setImmediate: cb and drain ordering
  // when the last queued write completes.
  imm_hook_obj_hwm2() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 2, write: 'imm' }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
  },

  // First write completes later (held), the buffered ones complete
  // synchronously when flushed: where does drain land relative to the cbs?
  held_then_sync_flush() {
    const { stream } = require('./lib');
    let held = null;
    const s = track(new stream.Writable({
      objectMode: true,
      highWaterMark: 2,
      write(c, e, cb) {
        log(`hook write ${c}`);
        if (c === 'a') held = cb; else cb();
      },
    }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
    later(() => { log('complete a'); held(); log('complete a returned'); state(s, S); });
  },

  // Two backpressure episodes: drain fires once per episode; a third batch
  // below hwm produces no drain.
  drain_once_per_episode() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 2, write: 'tick' }));
    let episode = 0;
    s.on('drain', () => {
      episode++;
      log(`drain handler episode ${episode}`);
      if (episode === 1) { w(s, 'c'); w(s, 'd'); w(s, 'e'); }
      if (episode === 2) { later(() => { log('third batch'); w(s, 'f'); }); }
    });
    w(s, 'a'); w(s, 'b');
  },

  // Writing from inside the drain handler.
  write_inside_drain() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 1, write: 'tick' }));
    s.once('drain', () => { log('in drain'); w(s, 'b'); state(s, S); });
    w(s, 'a');
  },

  // hwm 0: every write returns false, even when the hook is synchronous.
  hwm0_obj_sync() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 0, write: 'sync' }));
    w(s, 'a'); w(s, 'b'); state(s, S);
  },

  hwm0_bytes_tick() {
    const s = track(mkWritable({ highWaterMark: 0, write: 'tick' }));
    w(s, 'x'); w(s, 'y'); state(s, S);
  },

  // end() while a drain is pending: drain is not emitted.
  no_drain_after_end() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 1, write: 'tick' }));
    w(s, 'a'); w(s, 'b');
    s.end();
    state(s, S);
  },

  // Byte mode hwm 5 with 2-char string chunks: length counts bytes.
  bytes_hwm5_strings() {
    const s = track(mkWritable({ highWaterMark: 5, write: 'tick' }));
    w(s, 'aa'); state(s, S);
    w(s, 'bb'); state(s, S);
    w(s, 'cc'); state(s, S);
    w(s, 'dd'); state(s, S);
  },

  // Byte mode: a single chunk larger than hwm with a sync hook -> true
  // (length is back to 0 when write() returns).
  bytes_single_chunk_over_hwm_sync() {
    const s = track(mkWritable({ highWaterMark: 4, write: 'sync' }));
    w(s, 'abcdef'); state(s, S);
  },

  // Same chunk with a hook that completes later -> false, then drain.
  bytes_single_chunk_over_hwm_tick() {
    const s = track(mkWritable({ highWaterMark: 4, write: 'tick' }));
    w(s, 'abcdef'); state(s, S);
  },

  // Same callback function object for every write (Node batches the deferred
  // callbacks of consecutive sync writes into one tick).
  sync_hook_shared_cb() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 1, write: 'sync' }));
    let n = 0;
    const cb = (err) => log(`cb shared #${++n} ${err ? err.code : null}`);
    for (const c of ['a', 'b', 'c']) log(`write(${c}) -> ${s.write(c, cb)}`);
    process.nextTick(() => log('nextTick queued after the writes'));
  },

  // Distinct callbacks: one tick each, interleaved with a user nextTick.
  sync_hook_distinct_cb_vs_user_tick() {
    const s = track(mkWritable({ objectMode: true, highWaterMark: 1, write: 'sync' }));
    w(s, 'a');
    process.nextTick(() => log('user nextTick'));
    w(s, 'b');
  },

  // write() returns false exactly when length reaches hwm (not exceeds).
  bytes_exact_hwm() {
    const s = track(mkWritable({ highWaterMark: 4, write: 'hold' }));
    w(s, 'abc'); state(s, S);
    w(s, 'd'); state(s, S);
    later(() => { log('complete first'); s.pending.shift()(); });
    later(() => { log('complete second'); s.pending.shift()(); });
  },
});

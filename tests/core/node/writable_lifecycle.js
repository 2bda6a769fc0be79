'use strict';
const { stream, log, later, track, w, state, mkWritable, main } = require('./lib');

const S = ['writableEnded', 'writableFinished', 'destroyed'];
const endcb = (label) => (err) => log(`cb ${label} ${err ? err.code || err.message : null}`);

main({
  // No _final: end() after a sync write.
  end_no_final() {
    const s = track(mkWritable({ write: 'sync' }));
    w(s, 'a');
    s.end(); log('end() returned');
    state(s, S);
    s.on('finish', () => state(s, S));
  },

  // _final completes synchronously.
  end_sync_final() {
    const s = track(mkWritable({ write: 'sync', final: 'sync' }));
    s.end(); log('end() returned');
    state(s, S);
  },

  // _final completes on process.nextTick.
  end_tick_final() {
    const s = track(mkWritable({ write: 'sync', final: 'tick' }));
    s.end(); log('end() returned');
  },

  // _final completes in a setImmediate.
  end_imm_final() {
    const s = track(mkWritable({ write: 'sync', final: 'imm' }));
    s.end(); log('end() returned');
  },

  // end() while an async write is in flight: _final waits for it.
  end_waits_for_pending_write() {
    const s = track(mkWritable({ objectMode: true, write: 'tick', final: 'sync' }));
    w(s, 'a'); w(s, 'b');
    s.end(); log('end() returned');
  },

  // end(chunk, cb) with a sync write hook and sync final.
  end_chunk_cb() {
    const s = track(mkWritable({ write: 'sync', final: 'sync' }));
    s.end('z', endcb('end')); log('end() returned');
  },

  // end(cb) with no _final: cb runs right before 'finish'.
  end_cb_no_final() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end(endcb('end')); log('end() returned');
  },

  // end(chunk, cb) with an async write hook.
  end_chunk_cb_tick_write() {
    const s = track(mkWritable({ write: 'tick' }));
    s.end('z', endcb('end')); log('end() returned');
  },

  // write after end with a callback.
  write_after_end_cb() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end(); log('end() returned');
    w(s, 'x');
    state(s, ['writableEnded', 'destroyed', 'errored']);
  },

  // write after end without a callback.
  write_after_end_no_cb() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end();
    w(s, 'x', false);
  },

  // write after end once the stream has finished (from a setImmediate).
  write_after_finish() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end();
    s.on('finish', () => later(() => { log('late write'); w(s, 'x'); }));
  },

  // end() twice in the same tick, second with a callback.
  end_twice_same_tick() {
    const s = track(mkWritable({ write: 'sync', final: 'tick' }));
    s.end(endcb('end1'));
    s.end(endcb('end2'));
    log('both end() returned');
  },

  // end(cb) again after 'finish' (autoDestroy false so the stream is not destroyed).
  end_after_finish() {
    const s = track(mkWritable({ write: 'sync', autoDestroy: false }));
    s.end();
    s.on('finish', () => later(() => { log('late end'); s.end(endcb('end2')); }));
  },

  // end(cb) again after close (autoDestroy true).
  end_after_close() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end();
    s.on('close', () => later(() => { log('late end'); s.end(endcb('end2')); }));
  },

  // end('b') after end(): the chunk is a write after end.
  end_chunk_after_end() {
    const s = track(mkWritable({ write: 'sync' }));
    s.end('a', endcb('end1'));
    s.end('b', endcb('end2'));
    log('both end() returned');
  },

  // _construct completes on nextTick; writes and end() issued before that are buffered.
  construct_tick() {
    const s = track(new stream.Writable({
      objectMode: true,
      construct(cb) { log('hook construct'); process.nextTick(() => { log('construct done'); cb(); }); },
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
      final(cb) { log('hook final'); cb(); },
    }));
    w(s, 'a'); w(s, 'b');
    state(s, ['writableLength']);
    s.end(endcb('end'));
  },

  // _construct with two buffered writes and a _writev hook.
  construct_tick_writev() {
    const s = track(new stream.Writable({
      objectMode: true,
      construct(cb) { log('hook construct'); process.nextTick(cb); },
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
      writev(chunks, cb) { log(`hook writev ${chunks.length} [${chunks.map((x) => x.chunk).join(',')}]`); cb(); },
    }));
    w(s, 'a'); w(s, 'b'); w(s, 'c');
  },

  // _construct completes synchronously.
  construct_sync() {
    const s = track(new stream.Writable({
      construct(cb) { log('hook construct'); cb(); },
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
    }));
    w(s, 'a');
    s.end();
  },

  // _construct fails: buffered write callbacks and end callback.
  construct_error() {
    const s = track(new stream.Writable({
      construct(cb) { log('hook construct'); process.nextTick(() => cb(new Error('boom'))); },
      write(c, e, cb) { log(`hook write ${c}`); cb(); },
      destroy(err, cb) { log(`hook destroy ${err ? err.message : null}`); cb(err); },
    }));
    w(s, 'a');
    s.end(endcb('end'));
  },

  // emitClose: false -> no 'close' after finish.
  emit_close_false() {
    const s = track(mkWritable({ write: 'sync', emitClose: false }));
    s.end();
    s.on('finish', () => process.nextTick(() => state(s, S)));
  },

  // autoDestroy: false -> finish, no destroy, no close.
  auto_destroy_false() {
    const s = track(mkWritable({ write: 'sync', autoDestroy: false }));
    s.end();
    s.on('finish', () => later(() => state(s, S)));
  },

  // writableFinished / writableEnded as seen from each lifecycle event.
  state_in_events() {
    const s = mkWritable({ write: 'sync', final: 'sync' });
    for (const ev of ['prefinish', 'finish', 'close']) {
      s.on(ev, () => { log(`event ${ev}`); state(s, S); });
    }
    s.end();
    state(s, S);
  },
});

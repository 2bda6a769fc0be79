'use strict';
const { stream, log, later, fmt, track, push, read, state, main } = require('./lib');

const S = ['readableLength', 'readableFlowing', 'readableEnded'];

// Readable whose _read only logs (the scenario pushes by hand).
function mkR(opts = {}) {
  return new stream.Readable({
    ...opts,
    read(n) { log(`hook read ${n}`); },
  });
}

main({
  // objectMode hwm 2: push() returns false once 2 items are buffered.
  push_returns_false_obj_hwm2() {
    const r = track(mkR({ objectMode: true, highWaterMark: 2 }));
    push(r, 'a'); push(r, 'b'); push(r, 'c');
    state(r, S);
  },

  // Byte mode hwm 4: push() result is based on buffered bytes.
  push_returns_false_bytes_hwm4() {
    const r = track(mkR({ highWaterMark: 4 }));
    push(r, 'ab'); push(r, 'cd'); push(r, 'e');
    state(r, S);
  },

  // _read is not called while buffered >= hwm; reading below hwm calls it.
  read_hook_only_below_hwm() {
    const r = track(mkR({ objectMode: true, highWaterMark: 2 }));
    push(r, 'a'); push(r, 'b');
    later(() => {
      log('no _read so far');
      read(r); state(r, S);
      read(r); state(r, S);
    });
  },

  // One push of 1 item below hwm: maybeReadMore calls _read on a later tick.
  read_hook_called_to_fill() {
    const r = track(mkR({ objectMode: true, highWaterMark: 3 }));
    push(r, 'a');
  },

  // read(n) joins and splits byte chunks.
  read_n_join_split() {
    const r = track(mkR({ highWaterMark: 16 }));
    push(r, 'abc'); push(r, 'def');
    read(r, 4); state(r, S);
    read(r, 2); state(r, S);
    read(r, 1);
  },

  // read(n) with n > buffered: null until EOF, then the rest.
  read_n_more_than_buffered() {
    const r = track(mkR({ highWaterMark: 16 }));
    push(r, 'abc');
    read(r, 5); state(r, S);
    push(r, null);
    read(r, 5); state(r, S);
    read(r, 5);
  },

  // read() with no argument in paused byte mode returns the whole buffer.
  read_all_bytes() {
    const r = track(mkR({ highWaterMark: 16 }));
    push(r, 'ab'); push(r, 'cd'); push(r, 'ef');
    read(r);
    state(r, S);
  },

  // objectMode read() and read(5) each return a single item.
  read_obj_single_item() {
    const r = track(mkR({ objectMode: true, highWaterMark: 4 }));
    push(r, 'a'); push(r, 'b'); push(r, 'c');
    read(r); read(r, 5); read(r, 0);
    state(r, S);
  },

  // read(0) on an empty stream calls _read and returns null.
  read0_triggers_read_hook() {
    const r = track(mkR({ objectMode: true, highWaterMark: 2 }));
    read(r, 0);
    state(r, S);
  },

  // read(n) larger than hwm raises the hwm to the next power of two.
  read_n_raises_hwm() {
    const r = track(mkR({ highWaterMark: 4 }));
    read(r, 10);
    log(`readableHighWaterMark=${r.readableHighWaterMark}`);
  },

  // hwm 0 readable in objectMode.
  hwm0_readable() {
    const r = track(mkR({ objectMode: true, highWaterMark: 0 }));
    push(r, 'a'); push(r, 'b');
    state(r, S);
    read(r); read(r); read(r);
  },

  // push after push(null) -> ERR_STREAM_PUSH_AFTER_EOF.
  push_after_eof() {
    const r = track(mkR({ objectMode: true }));
    push(r, 'a'); push(r, null); push(r, 'b');
    state(r, ['readableLength', 'destroyed', 'errored']);
  },

  // push(null) twice is harmless.
  push_null_twice() {
    const r = track(mkR({ objectMode: true }));
    push(r, null); push(r, null);
    r.on('data', (c) => log(`event data ${c}`));
  },

  // unshift puts an item back at the front (objectMode).
  unshift_obj() {
    const r = track(mkR({ objectMode: true, highWaterMark: 4 }));
    push(r, 'b'); push(r, 'c');
    const x = read(r);
    log(`unshift(${x}) -> ${r.unshift(x)}`);
    log(`unshift(a) -> ${r.unshift('a')}`);
    read(r); read(r); read(r);
  },

  // unshift in byte mode merges with following reads.
  unshift_bytes() {
    const r = track(mkR({ highWaterMark: 16 }));
    push(r, 'abcdef');
    const x = read(r, 2);
    log(`unshift(${fmt(x)}) -> ${r.unshift(x)}`);
    read(r, 3); read(r);
  },

  // unshift after 'end' -> ERR_STREAM_UNSHIFT_AFTER_END_EVENT.
  unshift_after_end_event() {
    const r = track(mkR({ objectMode: true }));
    r.on('data', (c) => log(`event data ${c}`));
    push(r, 'a'); push(r, null);
    r.on('end', () => { log(`unshift(z) -> ${r.unshift('z')}`); });
  },

  // Ended stream with unconsumed data: no 'end' until the data is read.
  end_waits_for_consumption() {
    const r = track(mkR({ objectMode: true }));
    push(r, 'a'); push(r, null);
    later(() => {
      log('no end yet');
      state(r, S);
      read(r);
      state(r, S);
    });
  },

  // Paused mode with 'readable': read until null, 'end' after the final null.
  end_after_readable_loop() {
    const r = track(mkR({ objectMode: true }));
    r.on('readable', () => {
      log('event readable');
      let c;
      while ((c = read(r)) !== null);
    });
    push(r, 'a'); push(r, 'b'); push(r, null);
  },

  // _read that pushes synchronously: pulls happen on demand with hwm 2.
  sync_read_hook_counter() {
    let i = 0;
    const r = track(new stream.Readable({
      objectMode: true,
      highWaterMark: 2,
      read(n) {
        i++;
        log(`hook read ${n}`);
        push(r, i <= 3 ? `v${i}` : null);
      },
    }));
    read(r); state(r, S);
    read(r); state(r, S);
    later(() => { read(r); read(r); read(r); read(r); });
  },

  // _read that pushes on nextTick; consumed in flowing mode.
  async_read_hook_flowing() {
    let i = 0;
    const r = track(new stream.Readable({
      objectMode: true,
      highWaterMark: 1,
      read(n) {
        const k = ++i;
        log(`hook read ${n}`);
        process.nextTick(() => push(r, k <= 3 ? `v${k}` : null));
      },
    }));
    r.on('data', (c) => log(`event data ${c}`));
  },

  // Readable with an async _construct: _read waits for construction.
  construct_then_read() {
    const r = track(new stream.Readable({
      objectMode: true,
      construct(cb) { log('hook construct'); process.nextTick(() => { log('construct done'); cb(); }); },
      read(n) { log(`hook read ${n}`); r.push('x'); r.push(null); },
    }));
    read(r);
    r.on('data', (c) => log(`event data ${c}`));
  },

  // Pushing an empty string in byte mode adds nothing and returns true.
  push_empty_string_bytes() {
    const r = track(mkR({ highWaterMark: 4 }));
    push(r, '');
    state(r, S);
  },

  // _read is not called again until push() is called (one outstanding read).
  read_hook_not_reentered() {
    const r = track(mkR({ objectMode: true, highWaterMark: 2 }));
    read(r); read(r); read(r, 0);
    later(() => { push(r, 'a'); read(r); });
  },
});

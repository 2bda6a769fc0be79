'use strict';
const { stream, log, later, track, onData, push, read, state, main } = require('./lib');

const S = ['readableFlowing', 'readableLength'];

function mkR(opts = {}) {
  return new stream.Readable({ objectMode: true, ...opts, read(n) { log(`hook read ${n}`); } });
}

main({
  // on('data') switches to flowing, but data is delivered from a later tick.
  on_data_starts_next_tick() {
    const r = track(mkR());
    push(r, 'a'); push(r, 'b');
    onData(r);
    state(r, S);
    push(r, null);
  },

  // pause() inside a data handler stops delivery at once.
  pause_in_data_handler() {
    const r = track(mkR());
    push(r, 'a'); push(r, 'b'); push(r, 'c');
    r.on('data', (c) => {
      log(`event data ${c}`);
      if (c === 'a') { r.pause(); state(r, S); }
    });
    later(() => { log('resume'); r.resume(); log('resume returned'); });
  },

  // resume() on a paused stream: flowing=true at once, data on a later tick.
  resume_is_deferred() {
    const r = track(mkR());
    push(r, 'a');
    onData(r);
    r.pause();
    state(r, S);
    later(() => {
      log('resume');
      r.resume();
      state(r, S);
    });
  },

  // readableFlowing values: data listener, pause(), resume().
  flowing_state_values_data() {
    const r = track(mkR());
    state(r, S);
    r.on('data', () => {}); state(r, S);
    r.pause(); state(r, S);
    r.resume(); state(r, S);
  },

  // readableFlowing after adding a 'readable' listener.
  flowing_state_values_readable() {
    const r = track(mkR());
    state(r, S);
    r.on('readable', () => log('event readable')); state(r, S);
    r.resume(); state(r, S);
  },

  // Adding then removing 'readable', then adding 'data' in the same tick.
  flowing_state_values_readable_removed() {
    const r = track(mkR());
    const h = () => {};
    r.on('readable', h); state(r, S);
    r.removeListener('readable', h); state(r, S);
    r.on('data', () => {}); state(r, S);
    r.pause(); state(r, S);
    r.resume(); state(r, S);
  },

  // pause() called before on('data'): the data listener does not start flowing.
  pause_before_on_data() {
    const r = track(mkR());
    push(r, 'a');
    r.pause();
    onData(r);
    state(r, S);
    later(() => { log('later'); state(r, S); });
  },

  // pause()/resume() events: only on actual transitions?
  pause_resume_events() {
    const r = track(mkR());
    log('pause #1'); r.pause();
    log('pause #2'); r.pause();
    log('resume #1'); r.resume();
    log('resume #2'); r.resume();
    log('pause #3'); r.pause();
  },

  // Flowing and empty: a push() from outside _read emits 'data' synchronously.
  async_push_to_flowing_empty() {
    const r = track(mkR());
    onData(r);
    later(() => {
      log('push from setImmediate');
      push(r, 'x');
      push(r, 'y');
      state(r, S);
    });
  },

  // on('data') then push() in the same sync section (outside _read): buffered
  // until the resume tick.
  sync_push_after_on_data() {
    const r = track(mkR());
    onData(r);
    push(r, 'a'); push(r, 'b');
    state(r, S);
  },

  // push() from inside _read while flowing: delivered synchronously?
  push_inside_read_hook_flowing() {
    let i = 0;
    const r = track(new stream.Readable({
      objectMode: true,
      read(n) {
        i++;
        log(`hook read ${n}`);
        push(r, i <= 2 ? `v${i}` : null);
      },
    }));
    onData(r);
  },

  // 'readable' is emitted once per burst when the handler drains the buffer.
  readable_once_per_burst() {
    const r = track(mkR());
    r.on('readable', () => {
      log('event readable');
      while (read(r) !== null);
    });
    push(r, 'a'); push(r, 'b');
    later(() => { log('burst 2'); push(r, 'c'); push(r, 'd'); });
    later(() => { log('eof'); push(r, null); });
  },

  // 'readable' handler that does not read: no further 'readable' on new pushes.
  readable_handler_not_reading() {
    const r = track(mkR());
    r.on('readable', () => { log('event readable'); state(r, S); });
    push(r, 'a');
    later(() => { log('push b'); push(r, 'b'); });
    later(() => { log('read all'); read(r); read(r); read(r); });
    later(() => { log('push c'); push(r, 'c'); });
  },

  // 'readable' handler reading only one item each time.
  readable_read_one_per_event() {
    const r = track(mkR());
    r.on('readable', () => { log('event readable'); read(r); });
    push(r, 'a'); push(r, 'b'); push(r, 'c'); push(r, null);
  },

  // Same, not ended: new 'readable' only after further pushes.
  readable_read_one_per_event_open() {
    const r = track(mkR());
    r.on('readable', () => { log('event readable'); read(r); });
    push(r, 'a'); push(r, 'b'); push(r, 'c');
    later(() => { log('push d'); push(r, 'd'); });
  },

  // Both 'readable' and 'data' listeners: 'readable' controls the flow.
  readable_and_data() {
    const r = track(mkR());
    onData(r);
    r.on('readable', () => { log('event readable'); while (read(r) !== null); });
    state(r, S);
    push(r, 'a'); push(r, null);
  },

  // Removing the last 'readable' listener resumes flowing if 'data' listeners exist.
  remove_readable_listener_resumes() {
    const r = track(mkR());
    onData(r);
    const h = () => log('event readable');
    r.on('readable', h);
    push(r, 'a');
    later(() => { log('remove readable'); r.removeListener('readable', h); state(r, S); });
  },

  // resume() without data listeners: data is discarded, stream ends.
  resume_without_listener() {
    const r = track(mkR());
    push(r, 'a'); push(r, 'b'); push(r, null);
    r.resume();
  },

  // Flowing mode: 'end' placement after the last 'data'.
  flowing_end_placement() {
    const r = track(mkR());
    push(r, 'a'); push(r, null);
    onData(r);
  },

  // setEncoding-less byte stream in flowing mode: one 'data' per pushed chunk.
  flowing_bytes_chunks() {
    const r = track(new stream.Readable({ read() {} }));
    push(r, 'ab'); push(r, 'cd');
    onData(r);
    push(r, null);
  },

  // resume() inside the 'end' listener is harmless; readableEnded timing.
  readable_ended_timing() {
    const r = track(mkR());
    push(r, 'a'); push(r, null);
    state(r, ['readableEnded']);
    onData(r);
    r.on('end', () => state(r, ['readableEnded']));
  },
});

'use strict';
const { stream, log, later, code, fmt, track, w, push, read, state, attempt, mkWritable, main } = require('./lib');

const cb = (label) => (err) => log(`cb ${label} ${code(err)}`);

main({
  // write(null) in objectMode: thrown synchronously? callback?
  write_null_object_mode() {
    const s = track(mkWritable({ objectMode: true }));
    attempt('write(null)', () => s.write(null, cb('null')));
    state(s, ['writableLength', 'destroyed', 'errored']);
    w(s, 'after');
  },

  // write(null) in byte mode.
  write_null_byte_mode() {
    const s = track(mkWritable({}));
    attempt('write(null)', () => s.write(null, cb('null')));
  },

  // write(undefined) in objectMode: accepted as a value?
  write_undefined_object_mode() {
    const s = track(mkWritable({ objectMode: true }));
    attempt('write(undefined)', () => s.write(undefined, cb('undefined')));
  },

  // write(42) in byte mode: invalid chunk type.
  write_number_byte_mode() {
    const s = track(mkWritable({}));
    attempt('write(42)', () => s.write(42, cb('42')));
    state(s, ['destroyed', 'errored']);
  },

  // end(null) is treated as end() without a chunk.
  end_null() {
    const s = track(mkWritable({ objectMode: true }));
    attempt('end(null)', () => { s.end(null); return 'ok'; });
  },

  // Writable without _write: how ERR_METHOD_NOT_IMPLEMENTED surfaces.
  missing_write_impl() {
    const s = track(new stream.Writable());
    attempt('write(a)', () => s.write('a', cb('a')));
  },

  // Readable without _read: how ERR_METHOD_NOT_IMPLEMENTED surfaces.
  missing_read_impl() {
    const r = track(new stream.Readable());
    attempt('read()', () => r.read());
  },

  // push(undefined) in objectMode.
  push_undefined_object_mode() {
    const r = track(new stream.Readable({ objectMode: true, read() {} }));
    push(r, undefined);
    state(r, ['readableLength']);
    read(r);
  },

  // push(undefined) in byte mode: ignored.
  push_undefined_byte_mode() {
    const r = track(new stream.Readable({ read() {} }));
    push(r, undefined);
    state(r, ['readableLength']);
  },

  // push(42) in byte mode: invalid type -> error event.
  push_number_byte_mode() {
    const r = track(new stream.Readable({ read() {} }));
    push(r, 42);
    state(r, ['readableLength', 'destroyed', 'errored']);
  },

  // Invalid highWaterMark values.
  invalid_hwm() {
    for (const v of [-1, 'x', NaN, Infinity]) {
      attempt(`Writable({highWaterMark: ${String(v)}})`, () => new stream.Writable({ highWaterMark: v }).writableHighWaterMark);
      attempt(`Readable({highWaterMark: ${String(v)}})`, () => new stream.Readable({ highWaterMark: v }).readableHighWaterMark);
    }
  },

  // Fractional and zero highWaterMark values.
  fractional_and_zero_hwm() {
    attempt('Writable({highWaterMark: 1.5})', () => new stream.Writable({ highWaterMark: 1.5 }).writableHighWaterMark);
    attempt('Readable({highWaterMark: 2.9})', () => new stream.Readable({ highWaterMark: 2.9 }).readableHighWaterMark);
    attempt('Writable({highWaterMark: 0})', () => new stream.Writable({ highWaterMark: 0 }).writableHighWaterMark);
    attempt('Writable({highWaterMark: undefined})', () => new stream.Writable({ highWaterMark: undefined }).writableHighWaterMark);
    attempt('Writable({highWaterMark: null})', () => new stream.Writable({ highWaterMark: null }).writableHighWaterMark);
    attempt('Duplex({readableHighWaterMark: -1})', () => new stream.Duplex({ readableHighWaterMark: -1 }).readableHighWaterMark);
  },

  // Default high water marks (Node 20).
  default_hwm() {
    log(`getDefaultHighWaterMark(false)=${stream.getDefaultHighWaterMark(false)}`);
    log(`getDefaultHighWaterMark(true)=${stream.getDefaultHighWaterMark(true)}`);
    log(`Writable bytes=${new stream.Writable().writableHighWaterMark} object=${new stream.Writable({ objectMode: true }).writableHighWaterMark}`);
    log(`Readable bytes=${new stream.Readable().readableHighWaterMark} object=${new stream.Readable({ objectMode: true }).readableHighWaterMark}`);
  },

  // setDefaultHighWaterMark affects streams created afterwards only.
  set_default_hwm() {
    const before = new stream.Writable();
    stream.setDefaultHighWaterMark(false, 4);
    stream.setDefaultHighWaterMark(true, 2);
    log(`getDefaultHighWaterMark(false)=${stream.getDefaultHighWaterMark(false)} (true)=${stream.getDefaultHighWaterMark(true)}`);
    log(`before=${before.writableHighWaterMark}`);
    log(`Writable bytes=${new stream.Writable().writableHighWaterMark} object=${new stream.Writable({ objectMode: true }).writableHighWaterMark}`);
    log(`Readable bytes=${new stream.Readable().readableHighWaterMark} object=${new stream.Readable({ objectMode: true }).readableHighWaterMark}`);
    attempt('setDefaultHighWaterMark(false, -1)', () => stream.setDefaultHighWaterMark(false, -1));
    attempt('setDefaultHighWaterMark(false, 0)', () => stream.setDefaultHighWaterMark(false, 0));
    log(`getDefaultHighWaterMark(false)=${stream.getDefaultHighWaterMark(false)}`);
  },

  // Default hwm with a per-side objectMode duplex.
  duplex_default_hwm_per_side() {
    const d = new stream.Duplex({ readableObjectMode: true, read() {}, write(c, e, cb) { cb(); } });
    log(`readableHighWaterMark=${d.readableHighWaterMark} writableHighWaterMark=${d.writableHighWaterMark}`);
  },

  // Objects of any kind in objectMode are passed through unchanged.
  object_mode_values() {
    const s = new stream.Writable({
      objectMode: true,
      write(c, e, cb) { log(`hook write ${typeof c}:${fmt(c)}`); cb(); },
    });
    for (const v of [0, false, '', { k: 1 }, [1, 2]]) s.write(v);
  },

  // Byte-mode Writable receives Buffers for string writes (decodeStrings default).
  byte_mode_string_to_buffer() {
    const s = new stream.Writable({
      write(c, e, cb) { log(`hook write ${Buffer.isBuffer(c) ? 'buffer' : typeof c}:${fmt(c)} enc=${e}`); cb(); },
    });
    s.write('hi');
    const s2 = new stream.Writable({
      decodeStrings: false,
      write(c, e, cb) { log(`hook write ${Buffer.isBuffer(c) ? 'buffer' : typeof c}:${fmt(c)} enc=${e}`); cb(); },
    });
    s2.write('hi');
  },
});

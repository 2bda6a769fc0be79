'use strict';
const { stream, log, track, push, state, main } = require('./lib');

// JSON string with every non-ASCII UTF-16 unit escaped as \uXXXX.
function q(s) {
  if (typeof s !== 'string') return `<${Buffer.isBuffer(s) ? 'buffer ' + s.toString('hex') : typeof s}>`;
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
const B = (...bytes) => Buffer.from(bytes);
const pushB = (r, buf) => log(`push(hex ${buf.toString('hex')}) -> ${r.push(buf)}`);
const onDataQ = (r) => r.on('data', (c) => log(`event data ${q(c)}`));

function mkR(opts = {}) { return track(new stream.Readable({ ...opts, read() {} }), null, ['end', 'close', 'error']); }

main({
  // 3-byte UTF-8 char (U+20AC, e2 82 ac) split 1 + 2 bytes, followed by 'a'.
  utf8_split_3byte() {
    const r = mkR();
    r.setEncoding('utf8');
    onDataQ(r);
    pushB(r, B(0x78, 0xe2));
    pushB(r, B(0x82, 0xac, 0x61));
    r.push(null);
  },

  // 4-byte UTF-8 char (U+1F600, f0 9f 98 80) split 2 + 1 + 1 bytes.
  utf8_split_4byte() {
    const r = mkR();
    r.setEncoding('utf8');
    onDataQ(r);
    pushB(r, B(0xf0, 0x9f));
    pushB(r, B(0x98));
    pushB(r, B(0x80, 0x62));
    r.push(null);
  },

  // Incomplete sequence at EOF: decoder flush emits U+FFFD before 'end'.
  utf8_incomplete_at_eof() {
    const r = mkR();
    r.setEncoding('utf8');
    onDataQ(r);
    pushB(r, B(0x61, 0xe2, 0x82));
    r.push(null);
  },

  // Paused mode: readableLength counts string units after decoding.
  utf8_paused_length() {
    const r = mkR();
    r.setEncoding('utf8');
    pushB(r, B(0xe2, 0x82));
    state(r, ['readableLength']);
    pushB(r, B(0xac, 0xf0, 0x9f, 0x98, 0x80));
    state(r, ['readableLength']);
    const a = r.read(1); log(`read(1) -> ${q(a)}`);
    const b = r.read(); log(`read() -> ${q(b)}`);
  },

  // setEncoding after bytes were buffered: the buffer is converted.
  set_encoding_after_buffered() {
    const r = mkR();
    pushB(r, B(0x68, 0x69, 0xe2, 0x82));
    state(r, ['readableLength']);
    r.setEncoding('utf8');
    state(r, ['readableLength']);
    pushB(r, B(0xac));
    onDataQ(r);
  },

  // encoding option in the constructor.
  encoding_option() {
    const r = mkR({ encoding: 'utf8' });
    onDataQ(r);
    pushB(r, B(0xc3));
    pushB(r, B(0xa9));
    r.push(null);
  },

  // hex encoding: each byte -> two hex chars, no carry-over.
  hex_encoding() {
    const r = mkR();
    r.setEncoding('hex');
    onDataQ(r);
    pushB(r, B(0x01, 0xff));
    pushB(r, B(0xab));
    r.push(null);
  },

  // base64 across chunks of 1, 2 and 4 bytes: 3-byte groups, flush at EOF.
  base64_encoding() {
    const r = mkR();
    r.setEncoding('base64');
    onDataQ(r);
    pushB(r, Buffer.from('a'));
    pushB(r, Buffer.from('bc'));
    pushB(r, Buffer.from('defg'));
    r.push(null);
  },

  // base64 in paused mode: what readableLength reports while bytes are held.
  base64_paused() {
    const r = mkR();
    r.setEncoding('base64');
    pushB(r, Buffer.from('a'));
    state(r, ['readableLength']);
    pushB(r, Buffer.from('bc'));
    state(r, ['readableLength']);
    const x = r.read(); log(`read() -> ${q(x)}`);
  },

  // Pushing a string to a stream with an encoding set.
  push_string_with_encoding() {
    const r = mkR();
    r.setEncoding('hex');
    onDataQ(r);
    log(`push("hi") -> ${r.push('hi')}`);
    log(`push("ff","hex") -> ${r.push('ff', 'hex')}`);
    r.push(null);
  },

  // Writable: string chunks with an explicit encoding are decoded to bytes.
  writable_string_encodings() {
    const s = new stream.Writable({
      write(c, e, cb) { log(`hook write hex=${c.toString('hex')} enc=${e}`); cb(); },
    });
    s.write('ff00', 'hex');
    s.write('YWJj', 'base64');
    s.setDefaultEncoding('hex');
    s.write('0a');
    s.write('\u20ac');
  },

  // UTF-16LE with a code unit split across chunks.
  utf16le_split() {
    const r = mkR();
    r.setEncoding('utf16le');
    onDataQ(r);
    pushB(r, B(0x41));
    pushB(r, B(0x00, 0x42, 0x00));
    r.push(null);
  },
});

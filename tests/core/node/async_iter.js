'use strict';
// Async iteration of a readable (for await, and the iterator's next() by hand): when the end is
// reported, what leaving the loop early does, and pending next() calls when the stream is
// destroyed with an error. tests/compose/async_test.cpp pins sluice's reader to these.
const { stream, log, code, fmt, track, main } = require('./lib');

function mkSrc(n, opts = {}) {
  let i = 0;
  return new stream.Readable({
    objectMode: true,
    ...opts,
    read() { i++; this.push(i <= n ? i : null); },
  });
}

const EV = ['end', 'close', 'error'];

main({
  iterate_to_end: () => {
    const r = track(mkSrc(3), 'src', EV);
    (async () => {
      for await (const x of r) log(`item ${fmt(x)}`);
      log(`loop done destroyed=${r.destroyed}`);
    })();
  },
  iterate_to_end_no_autodestroy: () => {
    const r = track(mkSrc(2, { autoDestroy: false }), 'src', EV);
    (async () => {
      for await (const x of r) log(`item ${fmt(x)}`);
      log(`loop done destroyed=${r.destroyed}`);
    })();
  },
  break_early: () => {
    const r = track(mkSrc(5), 'src', EV);
    (async () => {
      for await (const x of r) { log(`item ${fmt(x)}`); break; }
      log(`loop left destroyed=${r.destroyed} errored=${code(r.errored)}`);
    })();
  },
  pending_next_then_destroy: () => {
    const r = track(new stream.Readable({ objectMode: true, read() {} }), 'src', EV);
    const it = r[Symbol.asyncIterator]();
    for (const k of [1, 2, 3]) {
      it.next().then(
        (v) => log(`next ${k} resolved done=${v.done} value=${fmt(v.value)}`),
        (e) => log(`next ${k} rejected ${code(e)}`));
    }
    const err = new Error('boom');
    err.code = 'EBOOM';
    r.destroy(err);
  },
});

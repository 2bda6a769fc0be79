'use strict';
// Shared helpers for the Node reference traces (see docs/node-traces.md).
//
// Every topic script calls main(scenarios). `node <topic>.js <scenario>` runs
// one scenario: the scenario function runs synchronously, then `-- sync` is
// printed, then the event loop drains. `node <topic>.js` lists scenario names.
//
// With TICKS=1 in the environment, extra markers are printed:
//   `-- tick N`      the lines below ran in the N-th generation of
//                    process.nextTick callbacks after the last sync/immediate
//                    section (generation 1 = ticks queued by the sync code).
//   `-- immediate`   the lines below ran in a setImmediate callback (later()).
// Only generations that print something get a marker.
const stream = require('stream');

const TICKS = process.env.TICKS === '1';
let pendingHeader = null;
let printedSinceMarker = false;

function log(...a) {
  if (pendingHeader) { console.log(pendingHeader); pendingHeader = null; }
  printedSinceMarker = true;
  console.log(a.join(' '));
}

function startTicks() {
  if (!TICKS) return;
  let gen = 1, empty = 0;
  printedSinceMarker = false;
  pendingHeader = '-- tick 1';
  const marker = () => {
    gen++;
    if (printedSinceMarker) empty = 0; else empty++;
    printedSinceMarker = false;
    if (empty >= 10) { pendingHeader = null; return; }
    pendingHeader = `-- tick ${gen}`;
    process.nextTick(marker);
  };
  process.nextTick(marker);
}

// Run fn from a setImmediate callback (the only macrotask the scenarios use).
function later(fn) {
  setImmediate(() => {
    if (TICKS) { pendingHeader = null; console.log('-- immediate'); }
    fn();
    startTicks();
  });
}

function code(e) {
  if (e === null || e === undefined) return 'null';
  return e.code || e.message;
}

function fmt(c) {
  if (c === null) return 'null';
  if (c === undefined) return 'undefined';
  if (c === '') return "''";
  if (Buffer.isBuffer(c)) return c.toString();
  if (typeof c === 'object') return JSON.stringify(c);
  return String(c);
}

// Attach loggers for the given events (never 'data' / 'readable', which change
// the readable mode; scenarios attach those explicitly).
const DEFAULT_EVENTS = ['drain', 'prefinish', 'finish', 'end', 'close', 'error', 'pause', 'resume'];
function track(s, name, events = DEFAULT_EVENTS) {
  const p = name ? `[${name}] ` : '';
  for (const ev of events) {
    s.on(ev, (x) => log(`${p}event ${ev}` + (ev === 'error' ? ' ' + code(x) : '')));
  }
  return s;
}

function onData(s, name) {
  const p = name ? `[${name}] ` : '';
  s.on('data', (c) => log(`${p}event data ${fmt(c)}`));
}

// write with logging. label defaults to the chunk; pass false for no callback.
function w(s, chunk, label, name) {
  const p = name ? `[${name}] ` : '';
  if (label === undefined) label = fmt(chunk);
  const cb = label === false ? undefined : (err) => log(`${p}cb ${label} ${code(err)}`);
  const r = s.write(chunk, cb);
  log(`${p}write(${fmt(chunk)}) -> ${r}`);
  return r;
}

function push(s, chunk, name) {
  const p = name ? `[${name}] ` : '';
  const r = s.push(chunk);
  log(`${p}push(${fmt(chunk)}) -> ${r}`);
  return r;
}

function read(s, n, name) {
  const p = name ? `[${name}] ` : '';
  const r = n === undefined ? s.read() : s.read(n);
  log(`${p}read(${n === undefined ? '' : n}) -> ${fmt(r)}`);
  return r;
}

const WSTATE = ['writableLength', 'writableNeedDrain', 'writableEnded', 'writableFinished', 'writableCorked', 'destroyed', 'errored'];
const RSTATE = ['readableLength', 'readableFlowing', 'readableEnded', 'destroyed', 'errored'];
function state(s, keys, name) {
  const p = name ? `[${name}] ` : '';
  const parts = keys.map((k) => {
    let v = s[k];
    if (k === 'errored') v = code(v);
    return `${k}=${v}`;
  });
  log(`${p}state ${parts.join(' ')}`);
}

// Call fn, print `threw CODE` if it throws (so a scenario can continue).
function attempt(label, fn) {
  try {
    const r = fn();
    log(`${label} -> ${fmt(r)}`);
    return r;
  } catch (e) {
    log(`${label} threw ${code(e)}`);
    return undefined;
  }
}

// Writable factory.
//   write:  'sync' -> hook calls cb() before returning
//           'tick' -> hook calls cb via process.nextTick
//           'imm'  -> hook calls cb via later() (setImmediate)
//           'hold' -> cb stored in w.pending (array); scenario completes it
//   writev: true -> a _writev hook with the same completion mode
//   final:  'sync' | 'tick' | 'imm' | undefined (no _final)
//   name:   prefix for every logged line of this stream
//   remaining options are passed to new Writable().
function mkWritable(opts = {}) {
  const { write = 'sync', writev = false, final, name, ...rest } = opts;
  const p = name ? `[${name}] ` : '';
  const pending = [];
  const complete = (mode, cb) => {
    if (mode === 'sync') cb();
    else if (mode === 'tick') process.nextTick(cb);
    else if (mode === 'imm') later(() => cb());
    else pending.push(cb);
  };
  const o = {
    ...rest,
    write(chunk, enc, cb) { log(`${p}hook write ${fmt(chunk)}`); complete(write, cb); },
  };
  if (writev) {
    o.writev = function (chunks, cb) {
      log(`${p}hook writev ${chunks.length} [${chunks.map((c) => fmt(c.chunk)).join(',')}]`);
      complete(write, cb);
    };
  }
  if (final) {
    o.final = function (cb) { log(`${p}hook final`); complete(final, cb); };
  }
  const s = new stream.Writable(o);
  s.pending = pending;
  return s;
}

function main(scenarios) {
  const name = process.argv[2];
  if (!name) { console.log(Object.keys(scenarios).join('\n')); return; }
  const fn = scenarios[name];
  if (!fn) { console.error(`unknown scenario ${name}`); process.exit(2); }
  process.on('uncaughtException', (e) => log(`uncaught ${code(e)}`));
  try { fn(); } catch (e) { log(`scenario threw ${code(e)}`); }
  log('-- sync');
  startTicks();
}

module.exports = {
  stream, log, later, code, fmt, track, onData, w, push, read, state, attempt,
  mkWritable, main, WSTATE, RSTATE,
};

'use strict';
// The SQLite write benchmark (scripts/bench-sqlite.sh) in Node.js with better-sqlite3 (npm,
// version 12), for comparison with `sluice-bench sqlite write`: the same rows (id, name, v, at),
// the same pragmas (WAL, synchronous FULL or NORMAL), one transaction per batch around one
// prepared INSERT. better-sqlite3 is synchronous: this is the fastest a Node program can drive it
// (no stream, no backpressure to honour), so it is a generous baseline.
//
//   NODE_PATH=DIR/node_modules node bench/node/sqlite.js --rows N --file F [--batch B]
//                                                         [--sync full|normal]
const { parseArgs } = require('node:util');
const fs = require('node:fs');
const Database = require('better-sqlite3');

const { values } = parseArgs({
  options: {
    rows: { type: 'string', short: 'n', default: '1000000' },
    batch: { type: 'string', short: 'b', default: '1000' },
    file: { type: 'string', short: 'f', default: 'bench-node.db' },
    sync: { type: 'string', default: 'full' },
  },
});
const rows = Number(values.rows);
const batch = Number(values.batch);
if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(batch) || batch < 1) {
  console.error('sqlite.js: --rows and --batch must be integers >= 1');
  process.exit(2);
}
for (const suffix of ['', '-wal', '-shm']) fs.rmSync(values.file + suffix, { force: true });

const base = Date.UTC(2026, 0, 1);
// RFC 3339 without a fraction, as sluice writes whole seconds.
const at = (i) => new Date(base + i * 1000).toISOString().replace('.000Z', 'Z');

const t0 = process.hrtime.bigint();
const db = new Database(values.file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${values.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
db.exec('CREATE TABLE t (id INTEGER NOT NULL, name TEXT NOT NULL, v REAL NOT NULL, at TEXT NOT NULL)');
const insert = db.prepare('INSERT INTO t (id, name, v, at) VALUES (?, ?, ?, ?)');
const many = db.transaction((from, to) => {
  for (let i = from; i < to; ++i) insert.run(i, `name-${i % 1000}`, i / 4, at(i));
});
for (let i = 0; i < rows; i += batch) many(i, Math.min(rows, i + batch));
const count = db.prepare('SELECT count(*) AS n FROM t').get().n;
db.close();
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
if (count !== rows) {
  console.error(`sqlite.js: ${count} rows in the table, expected ${rows}`);
  process.exit(1);
}
console.log(`RESULT node_sqlite_write rows=${rows} batch=${batch} sync=${values.sync} ` +
            `seconds=${secs.toFixed(3)} rows_per_s=${Math.round(rows / secs)}`);

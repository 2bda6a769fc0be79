'use strict';
// The PostgreSQL load benchmark (scripts/bench-pg.sh) in Node.js with pg and pg-copy-streams
// (npm), for comparison with `sluice run 'read F | csv --header | pg CONNINFO t'` and psql's
// `\copy`: the CSV file is streamed as it is (fs.createReadStream, stream.pipeline) into
// `COPY t FROM STDIN WITH (FORMAT csv, HEADER true)`; the server parses the CSV, as for psql. No
// per-row work in Node: this is the idiomatic and fastest way a Node program loads a CSV file, so
// it is a generous baseline.
//
//   NODE_PATH=DIR/node_modules node bench/node/pg_copy.js --file F [--table t] [--rows N]
//                                  [--conninfo 'host=/sock/dir user=sluice dbname=postgres']
//
// Connection: --conninfo as libpq takes it (key=value pairs, values optionally in single quotes,
// or a postgres:// URL); without it, pg's own defaults from PGHOST, PGPORT, PGUSER, PGDATABASE
// (PGHOST may be a socket directory). --rows: the expected row count, checked against COPY's.
const { parseArgs } = require('node:util');
const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const { Client } = require('pg');
const { from: copyFrom } = require('pg-copy-streams');

const { values } = parseArgs({
  options: {
    file: { type: 'string', short: 'f' },
    table: { type: 'string', short: 't', default: 't' },
    rows: { type: 'string', short: 'n' },
    conninfo: { type: 'string', short: 'c' },
  },
});
if (!values.file) {
  console.error('pg_copy.js: --file is required');
  process.exit(2);
}

// libpq's key=value form (enough of it: keys, bare or single-quoted values, backslash escapes).
function parseConninfo(s) {
  if (/^postgres(ql)?:\/\//.test(s)) return { connectionString: s };
  const out = {};
  const names = {
    host: 'host', port: 'port', user: 'user', dbname: 'database', password: 'password',
  };
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) {
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    if (names[m[1]]) out[names[m[1]]] = m[1] === 'port' ? Number(v) : v;
  }
  if (re.lastIndex < s.length && s.slice(re.lastIndex).trim() !== '') {
    throw new Error(`cannot parse conninfo near "${s.slice(re.lastIndex)}"`);
  }
  return out;
}

async function main() {
  const config = values.conninfo ? parseConninfo(values.conninfo) : {};
  const t0 = process.hrtime.bigint();
  const client = new Client(config);
  await client.connect();
  let rows;
  try {
    const copy = client.query(
      copyFrom(`COPY ${values.table} FROM STDIN WITH (FORMAT csv, HEADER true)`));
    await pipeline(fs.createReadStream(values.file), copy);
    rows = copy.rowCount;
  } finally {
    await client.end();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (values.rows !== undefined && rows !== Number(values.rows)) {
    console.error(`pg_copy.js: COPY reported ${rows} rows, expected ${values.rows}`);
    process.exit(1);
  }
  console.log(`RESULT node_pg_copy rows=${rows} seconds=${secs.toFixed(3)} ` +
              `rows_per_s=${Math.round(rows / secs)}`);
}

main().catch((err) => {
  console.error(`pg_copy.js: ${err.message}`);
  process.exit(1);
});

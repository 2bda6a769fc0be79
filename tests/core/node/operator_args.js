'use strict';
// Invalid arguments of the readable operators: Node throws at the call, before any stream is
// made. tests/compose/operators_map_test.cpp pins sluice to these codes.
const { stream, attempt, main } = require('./lib');

const src = () => stream.Readable.from([1, 2, 3]);

main({
  map_concurrency_0: () => attempt('map concurrency 0', () => src().map((x) => x, { concurrency: 0 })),
  filter_concurrency_0: () =>
    attempt('filter concurrency 0', () => src().filter((x) => x, { concurrency: 0 })),
  map_concurrency_1: () => attempt('map concurrency 1', () => typeof src().map((x) => x, { concurrency: 1 })),
});

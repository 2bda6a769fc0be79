// sluice/db.hpp: the db layer in one include: rows (static rows by position, run-time records),
// the formats that carry them (CSV, JSON lines) and the databases that store them (SQLite
// embedded, PostgreSQL COPY), each a stream with the database's own pace as its backpressure
// (docs/databases.md).
#pragma once

#include "sluice/core.hpp"
#include "sluice/db/csv.hpp"
#include "sluice/db/jsonl.hpp"
#include "sluice/db/postgres.hpp"
#include "sluice/db/row.hpp"
#include "sluice/db/sqlite.hpp"

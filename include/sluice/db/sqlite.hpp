// sluice/db/sqlite.hpp: SQLite, the db layer's embedded database (nothing to start).
//
//   - make_sqlite_writer<Row>() (sqlite_writer.hpp): rows into a table, one transaction per
//     batch, each write acknowledged after its batch's COMMIT; the database's pace (and its
//     locks) is the writer's backpressure.
//   - sqlite_reader<Row> (sqlite_reader.hpp): a query's rows, stepped only as they are read.
//   - make_sqlite_record_writer() / make_sqlite_record_reader(): the same for db::record, the
//     run-time rows of the CLI.
//   - sqlite_core.hpp: SQLite's result codes as std::error_code (sqlite_category), the pragmas'
//     options, and the seam between the templates and src/db/sqlite.cpp.
//
// docs/databases.md, "SQLite", has the type mapping, the pragmas and the error messages.
#pragma once

#include "sluice/db/sqlite_core.hpp"
#include "sluice/db/sqlite_reader.hpp"
#include "sluice/db/sqlite_writer.hpp"

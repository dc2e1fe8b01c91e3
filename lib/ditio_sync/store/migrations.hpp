// Numbered schema migrations, embedded at build time from migrations/NNNN_*.sql, keyed on PRAGMA
// user_version.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string_view>
#include <vector>

namespace ditio_sync::store {

struct migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

// Every migration the binary knows, in order (generated file).
const std::vector<migration>& embedded_migrations();

// The schema version this binary writes.
int latest_schema_version();

// PRAGMA user_version.
int schema_version(SQLite::Database& db);

// For a reader that cannot migrate (status): throws db_error unless the schema is this binary's, saying
// what to run when it is older or missing.
void require_current_schema(SQLite::Database& db);

// Applies each pending migration in its own IMMEDIATE transaction that also sets user_version.
// Returns how many were applied. Throws db_error(schema_too_new) when the database is newer than the binary.
int migrate(SQLite::Database& db);

} // namespace ditio_sync::store

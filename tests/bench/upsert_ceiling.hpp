// The SQLite upsert ceiling of issue 7: the same records the fake server serves, upserted in a tight loop
// into a fresh database opened and migrated by the store (same pragmas, schema and indexes as the daemon),
// with the mirror's own upsert (store::mirror_table), one IMMEDIATE transaction per batch of 10,000 rows.
// The benchmark runs it in a child process of its own so that wait4 measures its CPU and peak RSS alone.
#pragma once

#include <cstddef>
#include <filesystem>
#include <support/fake_ditio.hpp>

namespace ditio_sync::bench {

// Rows per transaction of the ceiling loop (the issue fixes it, whatever --chunk-limit says).
inline constexpr std::size_t ceiling_batch = 10'000;

// Writes the live time registrations of `server` to `file` in the order a full sync receives them (work
// date, then id), as page bodies of `ceiling_batch` records each, one body per line, each record's JSON
// exactly as the server sends it. Returns the number of records written. Throws on failure.
std::size_t write_ceiling_rows(const testing::fake_ditio& server, const std::filesystem::path& file);

// What the ceiling loop measured of itself: the upserts and commits only (loading and parsing the rows
// file are left out), including closing the database (its final checkpoint, as `ditio-sync sync` does).
struct ceiling_timing {
    std::size_t rows = 0;
    double wall_seconds = 0;
    double cpu_seconds = 0;
};

// The child's side: upserts every row of `rows_file` into a fresh database at `db`. Throws on failure.
ceiling_timing run_ceiling(const std::filesystem::path& rows_file, const std::filesystem::path& db);

} // namespace ditio_sync::bench

// The quarantine table (migration 0006): records of well-formed pages that break the record contract (no
// string id, a modifiedDateTime that is not a date-time), kept out of the mirror so their page commits and
// the stream moves on. An entry leaves when a good version of its id is stored, when a complete full re-sync
// no longer returns it, or on `reset`. Every function runs on the database thread, inside the caller's
// transaction where it writes, and throws SQLite::Exception (sync_store translates).
#pragma once

#include <ditio_sync/model/record.hpp>

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ditio_sync::store {

// One entry, for status and tests.
struct quarantine_entry {
    std::string stream;
    std::string record_id; // "" when the record has no string id
    std::string reason;
    std::string data;
    std::string first_seen_at, last_seen_at;
    std::int64_t first_run = 0, last_run = 0, times_seen = 0;
};

// Writes a page's quarantined records of `stream` (a record seen before, by its id or else by its exact
// JSON, only gets last_seen_at, last_run and times_seen updated; a new bad version of an id replaces the
// entry's data and reason), then removes the entries whose id `good` now brings. Returns the stream's
// entries afterwards.
std::int64_t quarantine_page(
    SQLite::Database& db,
    const std::string& stream,
    std::int64_t run_id,
    const std::string& now,
    const std::vector<model::quarantined_record>& bad,
    const std::vector<model::record>& good
);

// A complete full traversal by `run_id` ended: drops the stream's entries it did not see. Returns the
// stream's entries afterwards.
std::int64_t drop_unseen_quarantine(SQLite::Database& db, const std::string& stream, std::int64_t run_id);

// Drops every entry of the stream (reset).
void clear_quarantine(SQLite::Database& db, const std::string& stream);

std::int64_t quarantine_count(SQLite::Database& db, const std::string& stream);

// The stream's entries, oldest first.
std::vector<quarantine_entry> quarantine_entries(SQLite::Database& db, const std::string& stream);

} // namespace ditio_sync::store

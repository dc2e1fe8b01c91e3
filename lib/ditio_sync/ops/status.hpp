// The `status` report: per stream its mode, watermark, rows, last run, last error, and the time the mirror
// is known complete through (watermark - overlap); a verdict over them. Reads only; safe while the daemon
// runs.
#pragma once

#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/value.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace ditio_sync::ops {

// The widest line format_status_summary writes (error excerpts are cut to it).
inline constexpr std::size_t status_columns = 100;

// Every enabled stream, and every other stream the database has state for, in catalogue order. `overlap`
// is used for streams whose watermark predates the recorded overlap. `lock` says whether a ditio-sync holds
// the database: a run without an end is interrupted when none does. Besides the fields it always had, each
// stream has `state` (ok, running, interrupted, failing, not synced, incomplete: records quarantined,
// unavailable), its last run a `result` (the run's status, but `interrupted` for a run left without an end),
// and the report `verdict` (ok or attention) and `instance_lock`. Times are UTC ISO 8601: stored ones as
// stored, data_complete_through to the second, as v_sync_freshness.complete_through. Throws store::db_error.
boost::json::value collect_status(
    SQLite::Database& db,
    const std::vector<const ditio::stream_def*>& enabled,
    std::chrono::milliseconds overlap,
    const store::lock_probe& lock = {}
);

// The report with only the named streams in `streams`; the rest of it unchanged.
boost::json::value only_streams(const boost::json::value& status, const std::vector<std::string>& names);

// The default text: a verdict line (is all well, does a ditio-sync run), one aligned line per stream (mode,
// rows, complete through, the last run's result and age at `now`), each failing stream's error cut to a
// line, and the outbox. No line is wider than status_columns.
std::string format_status_summary(const boost::json::value& status, util::sys_micros now);

// Each stream's block in full (`status STREAM`).
std::string format_status_text(const boost::json::value& status);

} // namespace ditio_sync::ops

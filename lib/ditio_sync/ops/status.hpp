// The `status` report: per stream its mode, watermark, rows, last run, last error, and the time the mirror
// is known complete through (watermark - overlap). Reads only; safe while the daemon runs.
#pragma once

#include <ditio_sync/ditio/streams.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/value.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace ditio_sync::ops {

// Every enabled stream, and every other stream the database has state for, in catalogue order. `overlap`
// is used for streams whose watermark predates the recorded overlap. Throws store::db_error.
boost::json::value collect_status(
    SQLite::Database& db,
    const std::vector<const ditio::stream_def*>& enabled,
    std::chrono::milliseconds overlap
);

std::string format_status_text(const boost::json::value& status);

} // namespace ditio_sync::ops

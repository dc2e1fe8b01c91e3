// How one run of one stream ended: what the engine returns, the scheduler and the commands act on, and
// the run reporter logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::sync {

enum class run_status {
    ok,
    failed,       // Ditio or the network failed; the checkpoint is kept for the next attempt
    auth_refused, // exit code 3
    db_error,     // exit code 4
    cancelled,    // stopped by a signal; the checkpoint is kept
    unavailable,  // Ditio answered 404: the endpoint is not available in this environment
};

std::string_view to_string(run_status s);

// Every run_status, in declaration order (metrics give each a series before it first happens).
inline constexpr run_status all_run_statuses[] = {
    run_status::ok,
    run_status::failed,
    run_status::auth_refused,
    run_status::db_error,
    run_status::cancelled,
    run_status::unavailable};

enum class run_mode {
    full,        // the whole stream (or its date window) read again; the sweep may mark rows deleted
    incremental, // the rows changed since the watermark minus the overlap
};

std::string_view to_string(run_mode m);
// nullopt for anything but "full" and "incremental" (a saved run's parameters, say).
std::optional<run_mode> parse_run_mode(std::string_view text);

struct run_report {
    run_status status = run_status::failed;
    std::string error;
    std::int64_t run_id = 0;
    run_mode mode = run_mode::full;
    bool resumed = false;
    std::int64_t pages = 0;
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
    std::int64_t swept = 0;
    bool newly_unavailable = false; // unavailable, and not known to be before this run
    int http_status = 0;            // Ditio's answer when a request failed the run
    bool not_ditio = false; // the run failed on ditio.reporting_base answering as something else: exit code 2
};

} // namespace ditio_sync::sync

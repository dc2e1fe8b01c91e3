// One run of one stream, the sync algorithm of design.md: fixed run parameters stored before the first
// request; full first run over full_from .. run start + full_ahead; incremental runs from watermark -
// overlap with ModifiedSince resent on every page; one transaction per page (rows, tombstones, checkpoint);
// watermark from Ditio's clock at run start; resume from the saved token; restart when Ditio rejects it.
// Fetching page N+1 overlaps committing page N on the database thread.
//
// Thread safety: runs on the io_context thread; store work hops to the db_worker.
#pragma once

#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace ditio_sync::sync {

struct engine_settings {
    std::chrono::milliseconds overlap{std::chrono::minutes{10}};
    int chunk_limit = 5000;
    std::string full_from = "2020-01-01";
    std::chrono::milliseconds full_ahead{std::chrono::hours{24 * 366}};
    std::string company_id;
    int run_retry_budget = 30;    // retries of all requests of one run together
    unsigned commit_attempts = 4; // tries of one page commit against a lock held by another writer
};

enum class run_status {
    ok,
    failed,       // Ditio or the network failed; the checkpoint is kept for the next attempt
    auth_refused, // exit code 3
    db_error,     // exit code 4
    cancelled,    // stopped by a signal; the checkpoint is kept
};

std::string_view to_string(run_status s);

struct run_report {
    run_status status = run_status::failed;
    std::string error;
    std::int64_t run_id = 0;
    std::string mode;
    bool resumed = false;
    std::int64_t pages = 0;
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
    std::int64_t swept = 0;
};

enum class run_kind { automatic, full };

class engine {
public:
    engine(
        ditio::extraction_client& api,
        db_worker& db,
        const util::clock& clock,
        engine_settings settings,
        util::stop_source& stop,
        log::logger_ptr logger
    );

    // Runs `stream` until its traversal ends, it fails, or a stop is requested. Never throws for
    // expected failures; the report says what happened (and sync_state/sync_runs record it).
    boost::asio::awaitable<run_report> run(const ditio::stream_def& stream, run_kind kind);

private:
    ditio::extraction_client& api_;
    db_worker& db_;
    const util::clock& clock_;
    engine_settings settings_;
    util::stop_source& stop_;
    log::logger_ptr log_;
};

} // namespace ditio_sync::sync

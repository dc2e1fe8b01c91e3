// The daemon's schedule: every enabled stream runs every sync.interval (with jitter) on the one event loop;
// a failed run is retried sooner with backoff capped at the interval; a stop request ends every loop after
// the page in flight is settled.
#pragma once

#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/util/backoff.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <vector>

namespace ditio_sync::sync {

struct schedule_settings {
    std::chrono::milliseconds interval{std::chrono::minutes{15}};
    double jitter = 0.1; // +-10% of the interval
    std::chrono::milliseconds failure_initial{std::chrono::seconds{30}};
};

class scheduler {
public:
    scheduler(
        engine& eng,
        std::vector<const ditio::stream_def*> streams,
        schedule_settings settings,
        util::stop_source& stop,
        log::logger_ptr logger,
        std::uint64_t seed
    );

    // Runs until a stop is requested. A failing stream (auth refused, database locked, Ditio down) is
    // retried on its backoff and logged each time; the daemon never gives up on its own.
    boost::asio::awaitable<void> run();

    // True when a stream loop died of an unexpected exception (the daemon then stops and exits non-zero).
    bool crashed() const { return crashed_; }

private:
    boost::asio::awaitable<void> stream_loop(const ditio::stream_def& stream);

    engine& engine_;
    std::vector<const ditio::stream_def*> streams_;
    schedule_settings settings_;
    util::stop_source& stop_;
    log::logger_ptr log_;
    util::backoff backoff_;
    bool crashed_ = false;
};

} // namespace ditio_sync::sync

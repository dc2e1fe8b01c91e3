// The daemon's schedule. Each enabled stream is due every interval (its own, with jitter); the streams
// that are due run one after another in catalogue order, registrations before the dimensions they refer
// to, so a pass asks Ditio for one thing at a time. A failed stream is due again sooner, with backoff
// capped at its interval, and never stops the others; an unavailable one (404) is looked at again daily.
// A stop request ends the pass after the page in flight is settled.
#pragma once

#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/stream_settings.hpp>
#include <ditio_sync/util/backoff.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace ditio_sync::sync {

struct schedule_settings {
    double jitter = 0.1; // +-10% of the interval
    std::chrono::milliseconds failure_initial{std::chrono::seconds{30}};
    std::chrono::milliseconds unavailable_recheck{std::chrono::hours{24}};
};

class scheduler {
public:
    // `streams` in catalogue order.
    scheduler(
        engine& eng,
        std::vector<stream_settings> streams,
        schedule_settings settings,
        const util::clock& clock,
        util::stop_source& stop,
        log::logger_ptr logger,
        std::uint64_t seed
    );

    // Runs until a stop is requested. A failing stream (auth refused, database locked, Ditio down) is
    // retried on its backoff and logged each time; the daemon never gives up on its own.
    boost::asio::awaitable<void> run();

    // A reloaded configuration: the streams and their settings from the next pass on (a run in progress
    // finishes with the parameters it started with). Streams kept keep their schedule; new ones are due
    // at once. Wakes the scheduler if it is waiting.
    void reconfigure(std::vector<stream_settings> streams);

private:
    struct slot {
        stream_settings settings;
        util::backoff backoff;
        std::chrono::steady_clock::time_point due;
        unsigned failures = 0;
    };

    // Runs one stream and decides when it is due again; returns its report.
    boost::asio::awaitable<run_report> run_one(slot& s);
    void apply_pending();

    engine& engine_;
    std::vector<slot> slots_;
    schedule_settings settings_;
    const util::clock& clock_;
    util::stop_source& stop_;
    log::logger_ptr log_;
    std::uint64_t seed_;
    std::optional<std::vector<stream_settings>> pending_;
    std::optional<boost::asio::steady_timer> wake_; // the wait between passes; cancelled to wake it
};

} // namespace ditio_sync::sync

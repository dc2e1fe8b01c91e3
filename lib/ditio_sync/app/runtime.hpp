// Everything a command that talks to Ditio needs, wired together on one io_context: the HTTP client, the
// token provider, both Ditio clients, the database thread, the engine and the pusher; SIGINT/SIGTERM stop
// it cleanly, a second one exits at once.
//
// Thread safety: one thread runs `io` (run_to_end); the database thread is db_thread's own.
#pragma once

#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/integration_client.hpp>
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/pusher.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace ditio_sync::app {

// The features a command runs: the token asks for their scopes (unless ditio.scope is set), and a feature
// whose scope the API client is not granted is off while the others run.
struct features {
    bool streams = true; // data extraction: reportingapiv1
    bool push = true;    // the outbox: ditioapiv3
};

// Each feature's scope and name, as token_settings::needs wants them.
std::vector<auth::scope_need> scope_needs(features f);

struct runtime {
    // `secret` is resolved by the caller before the database is touched, so a missing secret writes nothing.
    // `metrics`, when given, counts HTTP answers, token refreshes and retries.
    runtime(
        const config::config& c,
        std::string secret,
        SQLite::Database db,
        ops::metrics* metrics = nullptr,
        features f = {}
    );
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    // Runs `body` to completion on the event loop; rethrows what it threw.
    template <class T> T run_to_end(boost::asio::awaitable<T> body)
    {
        std::exception_ptr error;
        std::optional<T> result;
        boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e, T r) {
            error = e;
            if (!e)
                result = std::move(r);
            signals.cancel();
        });
        io.run();
        if (error)
            std::rethrow_exception(error);
        return std::move(*result);
    }

    const config::config& cfg;
    boost::asio::io_context io;
    util::real_clock clock;
    util::stop_source stop;
    http::client http;
    auth::token_provider tokens;
    ditio::extraction_client api;
    ditio::integration_client integration;
    sync::db_worker db_thread;
    sync::engine engine;
    sync::pusher pusher;
    boost::asio::signal_set signals;

private:
    void wait_for_signal();
};

} // namespace ditio_sync::app

#include <ditio_sync/sync/scheduler.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

namespace ditio_sync::sync {

namespace asio = boost::asio;

scheduler::scheduler(
    engine& eng,
    std::vector<const ditio::stream_def*> streams,
    schedule_settings settings,
    util::stop_source& stop,
    log::logger_ptr logger,
    std::uint64_t seed
)
    : engine_(eng), streams_(std::move(streams)), settings_(settings), stop_(stop), log_(std::move(logger)),
      backoff_(settings.failure_initial, settings.interval, seed)
{
}

asio::awaitable<void> scheduler::stream_loop(const ditio::stream_def& stream)
{
    unsigned failures = 0;
    while (!stop_.stop_requested()) {
        auto report = co_await engine_.run(stream, run_kind::automatic);
        if (report.status == run_status::cancelled || stop_.stop_requested())
            break;
        std::chrono::milliseconds wait;
        if (report.status == run_status::ok) {
            failures = 0;
            wait = backoff_.jittered(settings_.interval, settings_.jitter);
        } else {
            // Between half and all of min(interval, 30 s * 2^failures): a failing stream is never retried
            // less often than a healthy one runs, and never more often than every 15 s (or half the
            // interval), which bounds the requests a persistent fault can cause.
            wait = backoff_.delay_at_least_half(failures);
            ++failures;
            auto level =
                report.status == run_status::auth_refused ? spdlog::level::critical : spdlog::level::warn;
            log::event(
                log_,
                level,
                "sync.stream_backoff",
                {{"stream", stream.name},
                 {"status", to_string(report.status)},
                 {"failures", failures},
                 {"retry_in_ms", wait.count()},
                 {"error", report.error}}
            );
        }
        log::debug(log_, "sync.next_run", {{"stream", stream.name}, {"in_ms", wait.count()}});
        if (!co_await stop_.sleep_for(wait))
            break;
    }
}

asio::awaitable<void> scheduler::run()
{
    auto ex = co_await asio::this_coro::executor;
    // Each stream gets its own loop; wait for all of them (they end on a stop request).
    std::size_t remaining = streams_.size();
    asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
    for (const auto* s : streams_) {
        asio::co_spawn(ex, stream_loop(*s), [&, name = std::string(s->name)](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex2) {
                    log::error(log_, "sync.stream_loop_crashed", {{"stream", name}, {"error", ex2.what()}});
                }
                // A crashed loop must not leave the daemon half-alive: stop, and systemd restarts us.
                crashed_ = true;
                stop_.request_stop();
            }
            if (--remaining == 0)
                all_done.cancel();
        });
    }
    if (remaining > 0)
        co_await all_done.async_wait(util::use_nothrow);
}

} // namespace ditio_sync::sync

#include <ditio_sync/sync/scheduler.hpp>

#include <algorithm>

namespace ditio_sync::sync {

namespace asio = boost::asio;

scheduler::scheduler(
    engine& eng,
    std::vector<stream_settings> streams,
    schedule_settings settings,
    const util::clock& clock,
    util::stop_source& stop,
    log::logger_ptr logger,
    std::uint64_t seed
)
    : engine_(eng), settings_(settings), clock_(clock), stop_(stop), log_(std::move(logger))
{
    auto now = clock_.steady_now();
    for (auto& s : streams) {
        auto interval = s.interval;
        slots_.push_back(slot{std::move(s), util::backoff(settings.failure_initial, interval, seed++), now});
    }
}

asio::awaitable<void> scheduler::run_one(slot& s)
{
    const auto& name = s.settings.def->name;
    auto report = co_await engine_.run(s.settings, run_kind::automatic);
    if (stop_.stop_requested())
        co_return;
    std::chrono::milliseconds wait;
    if (report.status == run_status::ok) {
        s.failures = 0;
        wait = s.backoff.jittered(s.settings.interval, settings_.jitter);
    } else if (report.status == run_status::unavailable) {
        s.failures = 0;
        wait = std::max(s.settings.interval, settings_.unavailable_recheck);
    } else {
        // Between half and all of min(interval, 30 s * 2^failures): a failing stream is never retried less
        // often than a healthy one runs, and never more often than every 15 s (or half the interval),
        // which bounds the requests a persistent fault can cause.
        wait = s.backoff.delay_at_least_half(s.failures);
        ++s.failures;
        auto level =
            report.status == run_status::auth_refused ? spdlog::level::critical : spdlog::level::warn;
        log::event(
            log_,
            level,
            "sync.stream_backoff",
            {{"stream", name},
             {"status", to_string(report.status)},
             {"failures", s.failures},
             {"retry_in_ms", wait.count()},
             {"error", report.error}}
        );
    }
    s.due = clock_.steady_now() + wait;
    log::debug(log_, "sync.next_run", {{"stream", name}, {"in_ms", wait.count()}});
    co_await engine_.note_next_run(std::string(name), clock_.system_now() + wait);
}

asio::awaitable<void> scheduler::run()
{
    while (!stop_.stop_requested()) {
        // One pass: every due stream, in catalogue order.
        for (auto& s : slots_) {
            if (stop_.stop_requested())
                co_return;
            if (s.due <= clock_.steady_now())
                co_await run_one(s);
        }
        if (slots_.empty())
            co_return;
        auto next = std::min_element(slots_.begin(), slots_.end(), [](const slot& a, const slot& b) {
                        return a.due < b.due;
                    })->due;
        auto now = clock_.steady_now();
        if (next > now && !co_await stop_.sleep_for(
                              std::chrono::duration_cast<std::chrono::milliseconds>(next - now) +
                              std::chrono::milliseconds{1}
                          ))
            co_return;
    }
}

} // namespace ditio_sync::sync

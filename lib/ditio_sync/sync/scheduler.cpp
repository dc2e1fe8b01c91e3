#include <ditio_sync/sync/scheduler.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/this_coro.hpp>

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
    : engine_(eng), settings_(settings), clock_(clock), stop_(stop), log_(std::move(logger)), seed_(seed)
{
    auto now = clock_.steady_now();
    for (auto& s : streams) {
        auto interval = s.interval;
        slots_.push_back(slot{std::move(s), util::backoff(settings.failure_initial, interval, seed_++), now});
    }
}

void scheduler::reconfigure(std::vector<stream_settings> streams)
{
    pending_ = std::move(streams);
    if (wake_)
        wake_->cancel();
}

void scheduler::apply_pending()
{
    if (!pending_)
        return;
    auto now = clock_.steady_now();
    std::vector<slot> next;
    for (auto& s : *pending_) {
        auto old = std::find_if(slots_.begin(), slots_.end(), [&](const slot& o) {
            return o.settings.def == s.def;
        });
        auto interval = s.interval;
        slot fresh{std::move(s), util::backoff(settings_.failure_initial, interval, seed_++), now};
        if (old != slots_.end()) {
            // Kept: its schedule stands, but never further away than its (new) interval.
            fresh.due = std::min(
                old->due, now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval)
            );
            fresh.failures = old->failures;
        }
        next.push_back(std::move(fresh));
    }
    slots_ = std::move(next);
    pending_.reset();
}

asio::awaitable<run_report> scheduler::run_one(slot& s)
{
    const auto& name = s.settings.def->name;
    auto report = co_await engine_.run(s.settings, run_kind::automatic);
    if (stop_.stop_requested())
        co_return report;
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
    co_return report;
}

asio::awaitable<void> scheduler::run()
{
    wake_.emplace(co_await asio::this_coro::executor);
    stop_.on_stop([this] {
        if (wake_)
            wake_->cancel();
    });
    while (!stop_.stop_requested()) {
        apply_pending();
        // One pass: every due stream, in catalogue order.
        auto pass_started = clock_.steady_now();
        std::int64_t ran = 0, ok = 0, rows = 0;
        for (auto& s : slots_) {
            if (stop_.stop_requested())
                co_return;
            if (s.due > clock_.steady_now())
                continue;
            auto report = co_await run_one(s);
            ++ran;
            ok += report.status == run_status::ok ? 1 : 0;
            rows += report.upserted + report.deleted + report.swept;
        }
        if (stop_.stop_requested())
            co_return;
        if (slots_.empty() && !pending_)
            co_return;
        auto next = slots_.empty()
                        ? clock_.steady_now() + std::chrono::hours{24}
                        : std::min_element(slots_.begin(), slots_.end(), [](const slot& a, const slot& b) {
                              return a.due < b.due;
                          })->due;
        auto now = clock_.steady_now();
        auto wait = next > now ? std::chrono::duration_cast<std::chrono::milliseconds>(next - now) +
                                     std::chrono::milliseconds{1}
                               : std::chrono::milliseconds{0};
        if (ran > 0)
            log::info(
                log_,
                "sync.summary",
                {{"streams", ran},
                 {"ok", ok},
                 {"failed", ran - ok},
                 {"rows", rows},
                 {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - pass_started).count()},
                 {"next_in_ms", wait.count()}}
            );
        if (wait.count() > 0 && !pending_) {
            wake_->expires_after(wait);
            co_await wake_->async_wait(util::use_nothrow);
        }
    }
}

} // namespace ditio_sync::sync

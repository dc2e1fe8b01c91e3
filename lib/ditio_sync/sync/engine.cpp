#include <ditio_sync/store/database.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/page_committer.hpp>
#include <ditio_sync/sync/run_clock.hpp>
#include <ditio_sync/sync/run_failure.hpp>
#include <ditio_sync/sync/run_plan.hpp>
#include <ditio_sync/sync/run_reporter.hpp>
#include <ditio_sync/util/duration.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <functional>
#include <memory>
#include <unordered_set>

namespace ditio_sync::sync {

namespace asio = boost::asio;

namespace {

util::sys_micros to_micros(std::chrono::system_clock::time_point t)
{
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

} // namespace

// What one run holds while it goes.
struct engine::run_state {
    run_state(const stream_settings& s, run_reporter r)
        : settings(s), stream(*s.def), name(stream.name), reporter(std::move(r))
    {
    }

    const stream_settings& settings;
    const ditio::stream_def& stream;
    const std::string name;
    run_reporter reporter;
    run_report report;
    run_plan plan;
    std::optional<std::string> token; // the continuation token to send next
    std::int64_t page_no = 0;         // pages fetched in this traversal (and, resumed, before it)
    int restarts = 0;
    // The local clock at the run's start (a resumed run's, as saved), and the run's start by the rule of
    // run_clock.hpp once its first page is in: the watermark it saves.
    util::sys_micros local_start;
    std::optional<std::string> server_start;
    std::optional<std::string> previous_watermark;
    std::optional<std::string> final_watermark;
    std::optional<std::int64_t> learned_span_s; // sync_state.window_span_s when the run began
    // Every continuation token of the traversal in progress, by hash (a server may send large ones): one
    // sent again is a cycle, never an end. A collision would fail one run, and the next starts afresh.
    std::unordered_set<std::size_t> seen_tokens;

    // True when `t` was seen before in this traversal; remembers it.
    bool seen(const std::string& t) { return !seen_tokens.insert(std::hash<std::string>{}(t)).second; }
};

engine::engine(
    ditio::extraction_client& api,
    db_worker& db,
    const util::clock& clock,
    engine_settings settings,
    util::stop_source& stop,
    log::logger_ptr logger
)
    : api_(api), db_(db), clock_(clock), settings_(settings), stop_(stop), log_(std::move(logger))
{
}

std::string engine::now_text() const
{
    return util::format_iso8601_ms(to_micros(clock_.system_now()));
}

asio::awaitable<void> engine::note_next_run(std::string stream, std::chrono::system_clock::time_point at)
{
    auto at_text = util::format_iso8601_s(to_micros(at));
    auto now = now_text();
    try {
        co_await db_.run([&](store::sync_store& s) { s.set_next_run(stream, at_text, now); });
    } catch (const std::exception& e) {
        log::warn(log_, "sync.state_write_failed", {{"stream", stream}, {"error", e.what()}});
    }
}

asio::awaitable<run_report> engine::run(const stream_settings& settings, run_kind kind)
{
    run_state rs{
        settings,
        run_reporter(
            log_,
            observer_,
            clock_,
            std::string(settings.def->name),
            {settings_.progress_every, settings_.page_events_at_debug}
        )};
    rs.local_start = to_micros(clock_.system_now());

    // 1. The run's fixed parameters: the one in progress resumed, or a new one saved before its first
    // request.
    if (auto setup_error = co_await begin(rs, kind)) {
        co_await record_failure(rs, run_status::db_error, *setup_error);
        rs.reporter.failed_to_start(rs.report, rs.plan.mode);
        co_return rs.report;
    }
    rs.report.mode = rs.plan.mode;
    rs.reporter.started(rs.report, rs.plan, rs.page_no);

    // 2. Page after page, each fetched while the one before it commits; each page one transaction with
    // its checkpoint.
    page_committer committer(
        db_,
        co_await asio::this_coro::executor,
        clock_,
        stop_,
        settings_.commit_attempts,
        log_,
        rs.name,
        rs.report.run_id
    );
    ditio::retry_budget budget{settings_.run_retry_budget};
    if (rs.token)
        rs.seen(*rs.token);
    std::int64_t pages_this_run = 0;
    for (;;) {
        auto fetched = co_await api_.fetch_page(rs.name, rs.stream.path, rs.plan.query, rs.token, budget);
        // The previous page's commit must be settled before anything else is decided.
        if (!co_await settle(rs, committer))
            break;
        if (!fetched) {
            if (co_await after_fetch_failure(rs, fetched.error()))
                continue;
            break;
        }
        auto page = std::make_shared<ditio::fetched_page>(std::move(*fetched));
        if (page->body.continuation && rs.seen(*page->body.continuation)) {
            co_await token_cycle(rs);
            break;
        }
        if (!rs.server_start)
            rs.server_start = run_start_of(rs, *page);

        // 3. The end of the traversal (or of a window's last piece) also saves the watermark.
        auto tx = transaction_of(rs, *page);
        bool last = tx.end.has_value();
        committer.launch(page, std::move(tx));
        rs.token = page->body.continuation;
        ++rs.page_no;
        bool enough = settings_.max_pages > 0 && ++pages_this_run >= settings_.max_pages;
        if (last || enough || stop_.stop_requested()) {
            if (!co_await settle(rs, committer))
                break;
            if (last)
                rs.report.status = run_status::ok;
            else
                co_await record_failure(rs, run_status::cancelled, enough ? "page limit reached" : "stopped");
            break;
        }
    }
    rs.reporter.finished(rs.report, rs.final_watermark);
    co_return rs.report;
}

asio::awaitable<std::optional<std::string>> engine::begin(run_state& rs, run_kind kind)
{
    const auto& name = rs.name;
    try {
        auto state = co_await db_.run([&](store::sync_store& s) { return s.load(name); });
        auto saved_wm = state && state->watermark ? util::parse_iso8601(*state->watermark) : std::nullopt;
        if (auto why = saved_wm ? implausible_watermark(*saved_wm, rs.local_start) : std::nullopt) {
            // In the future, every later run would ask for changes since then and get none; before 2000,
            // each would read everything again (or be refused). Start again with a full sync, as `reset`
            // would.
            log::warn(
                log_,
                "sync.watermark_repaired",
                {{"stream", name},
                 {"watermark", *state->watermark},
                 {"reason", *why},
                 {"local_time", util::format_iso8601_ms(rs.local_start)},
                 {"next", "full sync"}}
            );
            auto now = util::format_iso8601_ms(rs.local_start);
            state = co_await db_.run([&](store::sync_store& s) {
                s.reset(name, now);
                return s.load(name);
            });
        }
        if (state) {
            rs.previous_watermark = state->watermark;
            rs.learned_span_s = state->window_span_s;
        }
        std::optional<run_plan> saved;
        if (state && state->run_id)
            saved = run_plan::from_json(state->run_params);
        // A run in progress continues with its saved parameters, unless a full run was asked for instead.
        if (saved && (kind == run_kind::automatic || saved->mode == run_mode::full)) {
            rs.plan = std::move(*saved);
            rs.report.run_id = *state->run_id;
            rs.report.resumed = true;
            rs.token = state->continuation_token;
            rs.page_no = state->pages_done;
            if (auto t = state->run_local_start ? util::parse_iso8601(*state->run_local_start) : std::nullopt)
                rs.local_start = *t;
            // An older version saved Ditio's Date as it came, 2999 included.
            if (auto date =
                    state->run_server_start ? util::parse_iso8601(*state->run_server_start) : std::nullopt)
                rs.server_start = util::format_iso8601_ms(run_start(date, rs.local_start));
            auto now = now_text();
            auto run_id = rs.report.run_id;
            co_await db_.run([&](store::sync_store& s) { s.resume_run(name, run_id, now); });
            co_return std::nullopt;
        }
        if (kind == run_kind::full || !state || !state->watermark) {
            co_await plan_full_run(rs);
        } else {
            auto wm = util::parse_iso8601(*state->watermark);
            if (!wm)
                throw store::db_error(
                    store::db_failure::corrupt, "sync_state.watermark is unreadable: " + *state->watermark
                );
            rs.plan = plan_incremental(rs.settings, *wm, settings_.overlap);
            if (beyond_incremental_age(rs.settings, *wm, settings_.overlap, rs.local_start)) {
                // Ditio would likely refuse a ModifiedSince that far back: do what its refusal would lead to.
                log::warn(
                    log_,
                    "sync.incremental_skipped",
                    {{"stream", name},
                     {"watermark", *state->watermark},
                     {"modified_since", rs.plan.param("ModifiedSince")},
                     {"max_incremental_age", util::format_duration(*rs.settings.max_incremental_age)},
                     {"next", "full re-sync"}}
                );
                co_await plan_full_run(rs);
                rs.plan.replaces_incremental = true;
            }
        }
        auto params = rs.plan.to_json();
        auto now = util::format_iso8601_ms(rs.local_start); // saved as the run's local start
        auto retention = settings_.retention;               // a reload may replace settings_ meanwhile
        rs.report.run_id = co_await db_.run([&](store::sync_store& s) {
            return s.begin_run(name, std::string(to_string(rs.plan.mode)), params, now, retention);
        });
    } catch (const store::db_error& e) {
        co_return std::string(e.what());
    }
    co_return std::nullopt;
}

asio::awaitable<void> engine::plan_full_run(run_state& rs)
{
    bool started_empty = rs.stream.sweep && co_await db_.run([&](store::sync_store& s) {
        return s.is_empty(std::string(rs.stream.table));
    });
    rs.plan = plan_full(rs.settings, rs.local_start, started_empty, rs.learned_span_s);
}

asio::awaitable<bool> engine::settle(run_state& rs, page_committer& committer)
{
    auto c = co_await committer.settle();
    if (!c.error.empty()) {
        co_await record_failure(rs, run_status::db_error, c.error);
        co_return false;
    }
    if (c.page)
        rs.reporter.committed(rs.report, c);
    co_return true;
}

asio::awaitable<bool> engine::after_fetch_failure(run_state& rs, const ditio::fetch_failure& f)
{
    auto& report = rs.report;
    run_position at{
        .sent_token = rs.token.has_value(),
        .windowed = rs.plan.windowed(),
        .can_split = rs.plan.windowed() && rs.plan.can_split(),
        .incremental = rs.plan.mode == run_mode::incremental,
        .read_anything = report.pages > 0 || report.resumed,
        .restarts = rs.restarts};
    auto decision = after_failure(f, at);
    using action = failure_decision::action;
    switch (decision.what) {
    case action::restart: {
        ++rs.restarts;
        log::warn(
            log_,
            "sync.run_restarted",
            {{"stream", rs.name}, {"run_id", report.run_id}, {"reason", f.message}}
        );
        rs.token.reset();
        rs.seen_tokens.clear();
        rs.page_no = 0;
        auto now = now_text();
        co_return co_await store_step(rs, [&](store::sync_store& s) {
            s.restart_run(rs.name, report.run_id, now);
        });
    }
    case action::split: {
        auto refused_to = rs.plan.param("ToDateTime");
        rs.plan.split();
        log::warn(
            log_,
            "sync.window_split",
            {{"stream", rs.name},
             {"run_id", report.run_id},
             {"from", rs.plan.param("FromDateTime")},
             {"refused_to", refused_to},
             {"to", rs.plan.param("ToDateTime")},
             {"reason", f.message}}
        );
        auto params = rs.plan.to_json();
        co_return co_await store_step(rs, [&](store::sync_store& s) {
            s.update_run_params(rs.name, report.run_id, params);
        });
    }
    case action::resync:
        co_return co_await resync(rs, f);
    case action::unavailable: {
        report.status = run_status::unavailable;
        report.error = f.message;
        try {
            auto now = now_text();
            report.newly_unavailable = co_await db_.run([&](store::sync_store& s) {
                return s.mark_unavailable(rs.name, report.run_id, now);
            });
        } catch (const std::exception& e) {
            log::error(log_, "sync.state_write_failed", {{"stream", rs.name}, {"error", e.what()}});
        }
        // Reported once; the daemon looks again now and then, quietly.
        log::event(
            log_,
            report.newly_unavailable ? spdlog::level::warn : spdlog::level::debug,
            "sync.stream_unavailable",
            {{"stream", rs.name}, {"error", f.message}}
        );
        co_return false;
    }
    case action::fail: {
        report.http_status = f.status;
        report.not_ditio = f.code == ditio::fetch_errc::not_ditio;
        auto error = f.message;
        if (decision.refused_at_one_day)
            // Halving is over: whatever Ditio refuses, it is not the window's size. Its message says what.
            error = fmt::format(
                "{} (refused even for a window piece of one day, {} .. {}: not for the window's size)",
                f.message,
                rs.plan.param("FromDateTime"),
                rs.plan.param("ToDateTime")
            );
        co_await record_failure(rs, decision.status, std::move(error), decision.checkpoint);
        co_return false;
    }
    }
    co_return false;
}

asio::awaitable<bool> engine::resync(run_state& rs, const ditio::fetch_failure& f)
{
    auto& report = rs.report;
    log::warn(
        log_,
        "sync.incremental_refused",
        {{"stream", rs.name},
         {"run_id", report.run_id},
         {"modified_since", rs.plan.param("ModifiedSince")},
         {"status", f.status},
         {"reason", f.message},
         {"next", "full re-sync"}}
    );
    std::optional<std::string> error;
    try {
        co_await plan_full_run(rs);
    } catch (const store::db_error& e) {
        error = e.what();
    }
    if (error) {
        co_await record_failure(rs, run_status::db_error, *error);
        co_return false;
    }
    // Once: the run is full now, so a refusal of it can never come back here.
    rs.plan.replaces_incremental = true;
    report.mode = run_mode::full;
    rs.token.reset();
    rs.seen_tokens.clear();
    rs.page_no = 0;
    auto params = rs.plan.to_json();
    co_return co_await store_step(rs, [&](store::sync_store& s) {
        s.replan_run(rs.name, report.run_id, std::string(to_string(run_mode::full)), params);
    });
}

asio::awaitable<bool> engine::store_step(run_state& rs, std::function<void(store::sync_store&)> step)
{
    std::optional<std::string> error;
    try {
        co_await db_.run([&](store::sync_store& s) { step(s); });
    } catch (const store::db_error& e) {
        error = e.what();
    }
    if (error) {
        co_await record_failure(rs, run_status::db_error, *error);
        co_return false;
    }
    co_return true;
}

asio::awaitable<void> engine::token_cycle(run_state& rs)
{
    // A -> B -> A: following it would never end and starve every other stream. The pages committed so far
    // stay; the next run asks afresh.
    log::error(
        log_,
        "sync.token_cycle",
        {{"stream", rs.name},
         {"run_id", rs.report.run_id},
         {"page", rs.page_no + 1},
         {"continuation_tokens", rs.seen_tokens.size()}}
    );
    co_await record_failure(
        rs,
        run_status::failed,
        fmt::format(
            "Ditio sent a continuation token it had already sent in this run (page {}): the pages go round "
            "in a cycle. The pages before it are kept; the next run starts the query afresh",
            rs.page_no + 1
        ),
        store::run_checkpoint::drop
    );
}

std::string engine::run_start_of(const run_state& rs, const ditio::fetched_page& first)
{
    auto start = run_start(first.server_date, rs.local_start);
    auto local_now = to_micros(clock_.system_now());
    if (first.server_date)
        if (auto skew = clock_skew(*first.server_date, local_now))
            log::warn(
                log_,
                "sync.clock_skew",
                {{"stream", rs.name},
                 {"server_date", util::format_iso8601_s(*first.server_date)},
                 {"local_time", util::format_iso8601_s(local_now)},
                 {"skew_s", std::chrono::duration_cast<std::chrono::seconds>(*skew).count()},
                 {"watermark_from", start < rs.local_start ? "server" : "local"}}
            );
    return util::format_iso8601_ms(start);
}

page_transaction engine::transaction_of(run_state& rs, const ditio::fetched_page& page)
{
    page_transaction tx;
    auto& pc = tx.page;
    pc.stream = rs.name;
    pc.table = std::string(rs.stream.table);
    pc.run_id = rs.report.run_id;
    pc.records = &page.body.records;
    pc.quarantined = &page.body.quarantined;
    pc.tombstones_carry_data = rs.stream.tombstones == ditio::tombstone_shape::last_version;
    pc.next_token = page.body.continuation;
    pc.server_start = rs.server_start;
    pc.now = now_text();
    // A piece size Ditio accepted after refusing a larger one: the stream's next full runs start there.
    if (rs.plan.span_learned && rs.plan.windowed() && rs.plan.max_span_s > 0)
        pc.window_span_s = rs.plan.max_span_s;
    // The end of one piece of a split window: the run goes on with the next piece.
    if (!page.body.continuation && rs.plan.next_piece()) {
        pc.next_params = rs.plan.to_json();
        rs.seen_tokens.clear();
        log::info(
            log_,
            "sync.window_piece",
            {{"stream", rs.name},
             {"run_id", rs.report.run_id},
             {"from", rs.plan.param("FromDateTime")},
             {"to", rs.plan.param("ToDateTime")}}
        );
    }
    // The run is over when neither a token nor a next piece follows: the one place this is decided.
    if (pc.next_token || pc.next_params)
        return tx;
    // Never move the watermark backwards, whatever the clocks say. A full re-sync keeps the old watermark:
    // its window may not cover every row the mirror holds, and the next incremental run must still see the
    // deletions and edits made since then. Not one that replaces a refused incremental run: asked from the
    // old watermark, Ditio would refuse again, and the changes since then outside the window are out of
    // reach either way.
    auto& end = tx.end.emplace();
    bool full = rs.plan.mode == run_mode::full;
    bool keep_old = rs.previous_watermark &&
                    ((full && !rs.plan.replaces_incremental) || *rs.previous_watermark > *rs.server_start);
    end.watermark = keep_old ? *rs.previous_watermark : *rs.server_start;
    rs.final_watermark = end.watermark;
    if (!keep_old)
        end.overlap_ms = settings_.overlap.count();
    end.full = full;
    end.sweep = full && rs.stream.sweep && !rs.plan.started_empty;
    end.window_field = rs.stream.windowed ? std::string(rs.stream.window_field) : std::string{};
    end.window_from = rs.plan.window_from;
    end.window_to = rs.plan.window_to;
    return tx;
}

asio::awaitable<void>
engine::record_failure(run_state& rs, run_status status, std::string error, store::run_checkpoint checkpoint)
{
    auto& report = rs.report;
    report.status = status;
    report.error = std::move(error);
    // A failure to record it is only logged.
    try {
        auto now = now_text();
        if (status == run_status::cancelled) {
            co_await db_.run([&](store::sync_store& s) { s.interrupt_run(rs.name, report.run_id, now); });
        } else if (report.run_id != 0) {
            co_await db_.run([&](store::sync_store& s) {
                s.fail_run(rs.name, report.run_id, report.error, now, checkpoint);
            });
        } else {
            co_await db_.run([&](store::sync_store& s) { s.record_error(rs.name, report.error, now); });
        }
    } catch (const std::exception& e) {
        log::error(log_, "sync.state_write_failed", {{"stream", rs.name}, {"error", e.what()}});
    }
}

} // namespace ditio_sync::sync

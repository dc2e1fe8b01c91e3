#include <ditio_sync/store/database.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/run_clock.hpp>
#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cctype>
#include <memory>
#include <unordered_set>

namespace ditio_sync::sync {

namespace asio = boost::asio;
namespace json = boost::json;

std::string_view to_string(run_status s)
{
    switch (s) {
    case run_status::ok:
        return "ok";
    case run_status::failed:
        return "failed";
    case run_status::auth_refused:
        return "auth_refused";
    case run_status::db_error:
        return "db_error";
    case run_status::cancelled:
        return "cancelled";
    case run_status::unavailable:
        return "unavailable";
    }
    return "unknown";
}

namespace {

constexpr std::chrono::seconds one_day{86400};

// The fixed parameters of a run, stored in sync_state.run_params before its first request. A full run
// of a windowed stream walks [window_from, window_to] in pieces of at most max_span once Ditio has
// refused a larger window; the query's FromDateTime/ToDateTime are the piece in progress. Pieces share
// their boundary instant, so a record there is read twice rather than never.
struct run_plan {
    std::string mode; // full | incremental
    ditio::query query;
    std::string window_from, window_to;
    std::int64_t max_span_s = 0; // 0: the whole window in one traversal
    // A full run into an empty table: every row at its end was written by the run, so there is nothing
    // to sweep (and at a million rows the sweep's scan of the table costs seconds).
    bool started_empty = false;

    std::string to_json() const
    {
        json::array q;
        for (const auto& [k, v] : query)
            q.push_back(json::array{json::string(k), json::string(v)});
        return json::serialize(json::object{
            {"mode", mode},
            {"query", std::move(q)},
            {"window_from", window_from},
            {"window_to", window_to},
            {"max_span_s", max_span_s},
            {"started_empty", started_empty}});
    }

    std::string param(std::string_view name) const
    {
        for (const auto& [k, v] : query)
            if (k == name)
                return v;
        return {};
    }

    void set_param(std::string_view name, std::string value)
    {
        for (auto& [k, v] : query)
            if (k == name) {
                v = std::move(value);
                return;
            }
        query.emplace_back(std::string(name), std::move(value));
    }

    bool windowed() const { return mode == "full" && !param("FromDateTime").empty(); }

    // Sets the piece starting at `from`: as long as max_span allows, clipped to the window's end. Spans
    // are whole days and the window starts at midnight, so piece boundaries fall at midnight UTC: if
    // Ditio compares dates rather than instants, a boundary day is read twice, never skipped.
    void set_piece(std::string from)
    {
        auto start = util::parse_iso8601(from);
        auto end = util::parse_iso8601(window_to);
        std::string to = window_to;
        if (start && end && max_span_s > 0 && *start + std::chrono::seconds{max_span_s} < *end)
            to = util::format_iso8601_s(*start + std::chrono::seconds{max_span_s});
        set_param("FromDateTime", std::move(from));
        set_param("ToDateTime", std::move(to));
    }

    // Halves the piece in progress (not below a day); false when it cannot get smaller.
    bool split()
    {
        auto start = util::parse_iso8601(param("FromDateTime"));
        auto end = util::parse_iso8601(param("ToDateTime"));
        if (!start || !end || *end - *start <= one_day)
            return false;
        auto days = std::chrono::duration_cast<std::chrono::seconds>(*end - *start).count() / one_day.count();
        max_span_s = std::max<std::int64_t>(days / 2, 1) * one_day.count();
        set_piece(param("FromDateTime"));
        return true;
    }

    // Moves to the piece after the one just finished; false when that was the last.
    bool next_piece()
    {
        if (!windowed())
            return false;
        auto to = param("ToDateTime");
        auto end = util::parse_iso8601(window_to);
        auto piece_end = util::parse_iso8601(to);
        if (!end || !piece_end || *piece_end >= *end)
            return false;
        set_piece(to);
        return true;
    }

    static std::optional<run_plan> from_json(const std::string& text)
    {
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        if (ec || !v.is_object())
            return std::nullopt;
        const auto& o = v.get_object();
        run_plan p;
        auto str = [&](std::string_view k) -> std::string {
            auto* x = o.if_contains(k);
            return x && x->is_string() ? std::string(x->get_string()) : std::string{};
        };
        p.mode = str("mode");
        p.window_from = str("window_from");
        p.window_to = str("window_to");
        if (auto* span = o.if_contains("max_span_s"); span && span->is_int64())
            p.max_span_s = span->get_int64();
        if (auto* empty = o.if_contains("started_empty"); empty && empty->is_bool())
            p.started_empty = empty->get_bool();
        auto* q = o.if_contains("query");
        if (!q || !q->is_array() || (p.mode != "full" && p.mode != "incremental"))
            return std::nullopt;
        for (const auto& item : q->get_array()) {
            const auto* pair = item.if_array();
            if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string())
                return std::nullopt;
            p.query.emplace_back(std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string()));
        }
        return p;
    }
};

// A commit running on the database thread while the next page is fetched.
struct pending_commit {
    explicit pending_commit(asio::any_io_executor ex) : done(ex, std::chrono::steady_clock::time_point::max())
    {
    }
    asio::steady_timer done;
    bool finished = false;
    std::exception_ptr error;
    store::commit_result result;
    std::shared_ptr<ditio::fetched_page> page; // kept alive until the commit is over
    store::page_commit commit;                 // kept to try again when the database is busy
    std::chrono::steady_clock::time_point started;
    unsigned attempts = 0;
};

// Starts (again) the commit of p on the database thread; completion wakes p->done on `io`.
void launch_commit(db_worker& db, asio::any_io_executor io, const std::shared_ptr<pending_commit>& p)
{
    p->finished = false;
    p->error = nullptr;
    ++p->attempts;
    asio::co_spawn(
        db.executor(),
        [&db, p]() -> asio::awaitable<store::commit_result> {
            co_return db.store_unsafe().commit_page(p->commit);
        },
        asio::bind_executor(
            io,
            [p](std::exception_ptr e, store::commit_result r) {
                p->error = e;
                p->result = r;
                p->finished = true;
                p->done.cancel();
            }
        )
    );
}

// True for a lock held by another process beyond busy_timeout: worth waiting for, unlike a full disk.
bool is_busy(const std::exception_ptr& e)
{
    try {
        std::rethrow_exception(e);
    } catch (const store::db_error& err) {
        return err.kind() == store::db_failure::busy;
    } catch (...) {
        return false;
    }
}

// Whether Ditio's 400 is about the size of the date window, as far as its message tells: only then is a
// smaller window worth trying. Any other 400 fails the run at once.
bool about_the_window(std::string_view message)
{
    std::string lower(message);
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view word :
         {"fromdatetime", "todatetime", "date range", "daterange", "window", "period"})
        if (lower.find(word) != std::string::npos)
            return true;
    return false;
}

util::sys_micros to_micros(std::chrono::system_clock::time_point t)
{
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

} // namespace

engine::engine(
    ditio::extraction_client& api,
    db_worker& db,
    const util::clock& clock,
    engine_settings settings,
    util::stop_source& stop,
    log::logger_ptr logger
)
    : api_(api), db_(db), clock_(clock), settings_(std::move(settings)), stop_(stop), log_(std::move(logger))
{
}

asio::awaitable<void> engine::note_next_run(std::string stream, std::chrono::system_clock::time_point at)
{
    auto at_text = util::format_iso8601_s(to_micros(at));
    auto now = util::format_iso8601_ms(to_micros(clock_.system_now()));
    try {
        co_await db_.run([&](store::sync_store& s) { s.set_next_run(stream, at_text, now); });
    } catch (const std::exception& e) {
        log::warn(log_, "sync.state_write_failed", {{"stream", stream}, {"error", e.what()}});
    }
}

asio::awaitable<run_report> engine::run(const stream_settings& settings, run_kind kind)
{
    const ditio::stream_def& stream = *settings.def;
    run_report report;
    const std::string name(stream.name);
    const std::string table(stream.table);
    auto io = co_await asio::this_coro::executor;
    auto now_text = [&] { return util::format_iso8601_ms(to_micros(clock_.system_now())); };
    auto run_started = clock_.steady_now();

    // Records the outcome of a run that could not finish; a failure to record it is only logged.
    auto record_failure = [&](run_status status, std::string error, bool abandon = false
                          ) -> asio::awaitable<void> {
        report.status = status;
        report.error = std::move(error);
        try {
            auto now = now_text();
            if (status == run_status::cancelled) {
                co_await db_.run([&](store::sync_store& s) { s.interrupt_run(name, report.run_id, now); });
            } else if (report.run_id != 0) {
                co_await db_.run([&](store::sync_store& s) {
                    s.fail_run(name, report.run_id, report.error, now, abandon);
                });
            } else {
                co_await db_.run([&](store::sync_store& s) { s.record_error(name, report.error, now); });
            }
        } catch (const std::exception& e) {
            log::error(log_, "sync.state_write_failed", {{"stream", name}, {"error", e.what()}});
        }
    };

    std::optional<store::stream_state> state;
    run_plan plan;
    std::optional<std::string> token;
    std::optional<std::string> server_start;
    std::int64_t page_no = 0;
    std::optional<std::string> previous_watermark;
    std::optional<std::string> setup_error;
    // The local clock at the run's start (a resumed run's, as saved): see run_clock.hpp.
    auto local_start = to_micros(clock_.system_now());
    try {
        state = co_await db_.run([&](store::sync_store& s) { return s.load(name); });
        auto saved_wm = state && state->watermark ? util::parse_iso8601(*state->watermark) : std::nullopt;
        if (auto why = saved_wm ? implausible_watermark(*saved_wm, local_start) : std::nullopt) {
            // In the future, every later run would ask for changes since then and get none; before 2000,
            // each would read everything again (or be refused). Start again with a full sync, as `reset`
            // would.
            log::warn(
                log_,
                "sync.watermark_repaired",
                {{"stream", name},
                 {"watermark", *state->watermark},
                 {"reason", *why},
                 {"local_time", util::format_iso8601_ms(local_start)},
                 {"next", "full sync"}}
            );
            auto now = util::format_iso8601_ms(local_start);
            state = co_await db_.run([&](store::sync_store& s) {
                s.reset(name, now);
                return s.load(name);
            });
        }
        if (state)
            previous_watermark = state->watermark;
        std::optional<run_plan> saved;
        if (state && state->run_id)
            saved = run_plan::from_json(state->run_params);
        bool resume = saved && (kind == run_kind::automatic || saved->mode == "full");
        if (resume) {
            plan = *saved;
            report.run_id = *state->run_id;
            report.resumed = true;
            token = state->continuation_token;
            if (auto saved_start =
                    state->run_local_start ? util::parse_iso8601(*state->run_local_start) : std::nullopt)
                local_start = *saved_start;
            // An older version saved Ditio's Date as it came, 2999 included.
            if (auto date =
                    state->run_server_start ? util::parse_iso8601(*state->run_server_start) : std::nullopt)
                server_start = util::format_iso8601_ms(run_start(date, local_start));
            page_no = state->pages_done;
            auto now = now_text();
            co_await db_.run([&](store::sync_store& s) { s.resume_run(name, report.run_id, now); });
        } else {
            bool full = kind == run_kind::full || !state || !state->watermark;
            if (full) {
                plan.mode = "full";
                plan.started_empty =
                    stream.sweep && co_await db_.run([&](store::sync_store& s) { return s.is_empty(table); });
                if (stream.windowed) {
                    plan.window_from = settings.full_from;
                    plan.window_to = util::format_iso8601_s(
                        local_start +
                        std::chrono::duration_cast<std::chrono::microseconds>(settings.full_ahead)
                    );
                    if (settings.max_window)
                        plan.max_span_s =
                            std::max<std::int64_t>(
                                std::chrono::duration_cast<std::chrono::days>(*settings.max_window).count(), 1
                            ) *
                            one_day.count();
                    plan.set_piece(plan.window_from);
                }
            } else {
                plan.mode = "incremental";
                auto wm = util::parse_iso8601(*state->watermark);
                if (!wm)
                    throw store::db_error(
                        store::db_failure::corrupt, "sync_state.watermark is unreadable: " + *state->watermark
                    );
                auto since = *wm - std::chrono::duration_cast<std::chrono::microseconds>(settings_.overlap);
                plan.query.emplace_back("ModifiedSince", util::format_iso8601_ms(since));
            }
            for (const auto& p : settings.params)
                plan.query.push_back(p);
            plan.query.emplace_back("ChunkLimit", std::to_string(settings.chunk_limit));
            auto params = plan.to_json();
            auto now = util::format_iso8601_ms(local_start); // saved as the run's local start
            auto retention = settings_.retention;            // a reload may replace settings_ meanwhile
            report.run_id = co_await db_.run([&](store::sync_store& s) {
                return s.begin_run(name, plan.mode, params, now, retention);
            });
        }
    } catch (const store::db_error& e) {
        setup_error = e.what();
    }
    if (setup_error) {
        co_await record_failure(run_status::db_error, *setup_error);
        log::error(
            log_, "sync.run_failed", {{"stream", name}, {"status", "db_error"}, {"error", report.error}}
        );
        if (observer_)
            observer_->run_finished(run_outcome{
                name, plan.mode, to_string(report.status), 0, 0, 0, {}, std::nullopt, std::nullopt});
        co_return report;
    }
    report.mode = plan.mode;

    json::object started{
        {"stream", name}, {"run_id", report.run_id}, {"mode", plan.mode}, {"resumed", report.resumed}};
    for (const auto& [k, v] : plan.query)
        if (k != "ChunkLimit")
            started[k] = v;
    if (report.resumed)
        started["page"] = page_no;
    log::info(log_, "sync.run_started", std::move(started));
    if (observer_)
        observer_->run_started(name, plan.mode);
    auto last_progress = clock_.steady_now();
    std::int64_t run_rows = 0;
    std::optional<std::string> final_watermark;

    std::shared_ptr<pending_commit> pending;
    util::backoff busy_backoff(std::chrono::milliseconds{200}, std::chrono::seconds{5}, report.run_id);
    // Waits for the commit in flight and logs it; returns false (report filled in) when it failed.
    // A page that meets a lock held by another writer is committed again a few times before the run
    // gives up; the checkpoint stays at the previous page meanwhile.
    auto settle = [&]() -> asio::awaitable<bool> {
        if (!pending)
            co_return true;
        for (;;) {
            while (!pending->finished)
                co_await pending->done.async_wait(util::use_nothrow);
            if (!pending->error || !is_busy(pending->error) || pending->attempts >= settings_.commit_attempts)
                break;
            auto delay = busy_backoff.delay(pending->attempts);
            log::warn(
                log_,
                "store.busy_retry",
                {{"stream", name},
                 {"run_id", report.run_id},
                 {"attempt", pending->attempts},
                 {"delay_ms", delay.count()}}
            );
            if (!co_await stop_.sleep_for(delay))
                break;
            launch_commit(db_, io, pending);
        }
        auto p = std::move(pending);
        if (p->error) {
            try {
                std::rethrow_exception(p->error);
            } catch (const store::db_error& e) {
                report.status = run_status::db_error;
                report.error = e.what();
            } catch (const std::exception& e) {
                report.status = run_status::db_error;
                report.error = e.what();
            }
            co_return false;
        }
        report.pages += 1;
        report.upserted += p->result.upserted;
        report.deleted += p->result.deleted;
        report.swept += p->result.swept;
        run_rows += static_cast<std::int64_t>(p->page->body.records.size());
        auto now = clock_.steady_now();
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - run_started);
        if (observer_)
            observer_->page_committed(page_progress{
                name,
                report.run_id,
                p->result.pages_done,
                static_cast<std::int64_t>(p->page->body.records.size()),
                p->result.upserted,
                p->result.deleted,
                p->result.swept,
                run_rows,
                elapsed});
        // A long run says how far it is at a steady cadence, whatever the page size.
        if (now - last_progress >= settings_.progress_every) {
            last_progress = now;
            auto seconds = std::max(std::chrono::duration<double>(elapsed).count(), 0.001);
            log::info(
                log_,
                "sync.progress",
                {{"stream", name},
                 {"run_id", report.run_id},
                 {"pages", p->result.pages_done},
                 {"rows", run_rows},
                 {"rows_per_s", static_cast<std::int64_t>(static_cast<double>(run_rows) / seconds)},
                 {"elapsed_s", static_cast<std::int64_t>(seconds)}}
            );
        }
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - p->started).count();
        log::event(
            log_,
            settings_.page_events_at_debug ? spdlog::level::debug : spdlog::level::info,
            "sync.page_committed",
            {{"stream", name},
             {"run_id", report.run_id},
             {"page", p->result.pages_done},
             {"records", p->page->body.records.size()},
             {"deleted", p->result.deleted},
             {"bytes", p->page->bytes},
             {"ms", ms}}
        );
        co_return true;
    };

    int restarts = 0;
    ditio::retry_budget budget{settings_.run_retry_budget};
    // Every continuation token of the traversal in progress, by hash (a server may send large ones): one
    // sent again is a cycle, never an end. A collision would fail one run, and the next starts afresh.
    std::unordered_set<std::size_t> seen_tokens;
    auto seen = [&](const std::string& t) { return !seen_tokens.insert(std::hash<std::string>{}(t)).second; };
    if (token)
        seen(*token);
    for (;;) {
        auto fetched = co_await api_.fetch_page(name, stream.path, plan.query, token, budget);
        // The previous page's commit must be settled before anything else is decided.
        if (!co_await settle()) {
            co_await record_failure(report.status, report.error);
            break;
        }
        if (!fetched) {
            const auto& f = fetched.error();
            if (f.code == ditio::fetch_errc::token_rejected && restarts < 2) {
                ++restarts;
                log::warn(
                    log_,
                    "sync.run_restarted",
                    {{"stream", name}, {"run_id", report.run_id}, {"reason", f.message}}
                );
                token.reset();
                seen_tokens.clear();
                page_no = 0;
                std::optional<std::string> restart_error;
                try {
                    auto now = now_text();
                    co_await db_.run([&](store::sync_store& s) { s.restart_run(name, report.run_id, now); });
                } catch (const store::db_error& e) {
                    restart_error = e.what();
                }
                if (restart_error) {
                    co_await record_failure(run_status::db_error, *restart_error);
                    break;
                }
                continue;
            }
            if (f.code == ditio::fetch_errc::bad_request && f.status == 400 && !token && plan.windowed() &&
                about_the_window(f.message)) {
                // Ditio may cap the date window (machine registrations at 7 days): try a smaller piece.
                auto refused_to = plan.param("ToDateTime");
                if (plan.split()) {
                    log::warn(
                        log_,
                        "sync.window_split",
                        {{"stream", name},
                         {"run_id", report.run_id},
                         {"from", plan.param("FromDateTime")},
                         {"refused_to", refused_to},
                         {"to", plan.param("ToDateTime")},
                         {"reason", f.message}}
                    );
                    std::optional<std::string> split_error;
                    try {
                        auto params = plan.to_json();
                        co_await db_.run([&](store::sync_store& s) {
                            s.update_run_params(name, report.run_id, params);
                        });
                    } catch (const store::db_error& e) {
                        split_error = e.what();
                    }
                    if (split_error) {
                        co_await record_failure(run_status::db_error, *split_error);
                        break;
                    }
                    continue;
                }
            }
            // A 404 before anything was read: the endpoint is missing here. Later in a run it is a
            // failure like any other, and the checkpoint is kept.
            if (f.code == ditio::fetch_errc::bad_request && f.status == 404 && !token && report.pages == 0 &&
                !report.resumed) {
                report.status = run_status::unavailable;
                report.error = f.message;
                try {
                    auto now = now_text();
                    report.newly_unavailable = co_await db_.run([&](store::sync_store& s) {
                        return s.mark_unavailable(name, report.run_id, now);
                    });
                } catch (const std::exception& e) {
                    log::error(log_, "sync.state_write_failed", {{"stream", name}, {"error", e.what()}});
                }
                // Reported once; the daemon looks again now and then, quietly.
                log::event(
                    log_,
                    report.newly_unavailable ? spdlog::level::warn : spdlog::level::debug,
                    "sync.stream_unavailable",
                    {{"stream", name}, {"error", f.message}}
                );
                break;
            }
            auto status = f.code == ditio::fetch_errc::cancelled      ? run_status::cancelled
                          : f.code == ditio::fetch_errc::auth_refused ? run_status::auth_refused
                                                                      : run_status::failed;
            // Ditio refused the query itself (a parameter, say): resuming with the same query cannot
            // succeed, so the next attempt starts a new run from the configuration as it is then.
            report.http_status = f.status;
            co_await record_failure(
                status, f.message, f.code == ditio::fetch_errc::bad_request && f.status != 404
            );
            break;
        }

        auto page = std::make_shared<ditio::fetched_page>(std::move(*fetched));
        if (page->body.continuation && seen(*page->body.continuation)) {
            // A -> B -> A: following it would never end and starve every other stream. The pages committed
            // so far stay; the next run asks afresh.
            log::error(
                log_,
                "sync.token_cycle",
                {{"stream", name},
                 {"run_id", report.run_id},
                 {"page", page_no + 1},
                 {"continuation_tokens", seen_tokens.size()}}
            );
            co_await record_failure(
                run_status::failed,
                fmt::format(
                    "Ditio sent a continuation token it had already sent in this run (page {}): the pages go "
                    "round in a cycle. The pages before it are kept; the next run starts the query afresh",
                    page_no + 1
                ),
                true
            );
            break;
        }
        if (!server_start) {
            auto local_now = to_micros(clock_.system_now());
            if (page->server_date)
                if (auto skew = clock_skew(*page->server_date, local_now))
                    log::warn(
                        log_,
                        "sync.clock_skew",
                        {{"stream", name},
                         {"server_date", util::format_iso8601_s(*page->server_date)},
                         {"local_time", util::format_iso8601_s(local_now)},
                         {"skew_s", std::chrono::duration_cast<std::chrono::seconds>(*skew).count()},
                         {"watermark_from",
                          run_start(page->server_date, local_start) < local_start ? "server" : "local"}}
                    );
            server_start = util::format_iso8601_ms(run_start(page->server_date, local_start));
        }

        pending = std::make_shared<pending_commit>(io);
        pending->page = page;
        pending->started = clock_.steady_now();
        auto& pc = pending->commit;
        pc.stream = name;
        pc.table = table;
        pc.run_id = report.run_id;
        pc.records = &page->body.records;
        pc.tombstones_carry_data = stream.tombstones == ditio::tombstone_shape::last_version;
        pc.next_token = page->body.continuation;
        pc.server_start = server_start;
        pc.now = now_text();
        // The end of one piece of a split window: the run goes on with the next piece.
        if (!page->body.continuation && plan.next_piece()) {
            pc.next_params = plan.to_json();
            seen_tokens.clear();
        }
        bool last = !page->body.continuation && !pc.next_params;
        if (last) {
            // Never move the watermark backwards, whatever Ditio's clock says. A full re-sync keeps the old
            // watermark: its window may not cover every row the mirror holds, and the next incremental
            // run must still see the deletions and edits made since then.
            bool keep_old =
                previous_watermark && (plan.mode == "full" || *previous_watermark > *server_start);
            pc.watermark = keep_old ? *previous_watermark : *server_start;
            final_watermark = pc.watermark;
            if (!keep_old)
                pc.overlap_ms = settings_.overlap.count();
            pc.full = plan.mode == "full";
            pc.sweep = pc.full && stream.sweep && !plan.started_empty;
            pc.window_field = stream.windowed ? std::string(stream.window_field) : std::string{};
            pc.window_from = plan.window_from;
            pc.window_to = plan.window_to;
        }
        launch_commit(db_, io, pending);
        token = page->body.continuation;
        ++page_no;
        if (pc.next_params)
            log::info(
                log_,
                "sync.window_piece",
                {{"stream", name},
                 {"run_id", report.run_id},
                 {"from", plan.param("FromDateTime")},
                 {"to", plan.param("ToDateTime")}}
            );

        if (last || stop_.stop_requested()) {
            if (!co_await settle()) {
                co_await record_failure(report.status, report.error);
                break;
            }
            if (last) {
                report.status = run_status::ok;
            } else {
                co_await record_failure(run_status::cancelled, "stopped");
            }
            break;
        }
    }

    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - run_started).count();
    json::object fields{
        {"stream", name},
        {"run_id", report.run_id},
        {"mode", plan.mode},
        {"status", to_string(report.status)},
        {"pages", report.pages},
        {"upserted", report.upserted},
        {"deleted", report.deleted},
        {"swept", report.swept},
        {"ms", ms},
    };
    if (!report.error.empty())
        fields["error"] = report.error;
    if (observer_) {
        run_outcome outcome{
            name,
            plan.mode,
            to_string(report.status),
            report.pages,
            report.upserted,
            report.deleted + report.swept,
            std::chrono::milliseconds{ms},
            std::nullopt,
            std::nullopt};
        if (report.status == run_status::ok) {
            outcome.succeeded_at = clock_.system_now();
            if (final_watermark)
                if (auto wm = util::parse_iso8601(*final_watermark))
                    outcome.watermark =
                        std::chrono::time_point_cast<std::chrono::system_clock::duration>(*wm);
        }
        observer_->run_finished(outcome);
    }
    if (report.status == run_status::ok || report.status == run_status::cancelled ||
        report.status == run_status::unavailable)
        log::info(log_, "sync.run_finished", std::move(fields));
    else
        log::error(log_, "sync.run_finished", std::move(fields));
    co_return report;
}

} // namespace ditio_sync::sync

// `check [--integrity] [--json]`: a doctor for a live setup. The configuration; the database (opened,
// migrated, checked, a write tried and rolled back); a token; then, with it, one cheap request per
// configured stream (ChunkLimit=1 over the last week), Ditio's clock against ours, and the Integration API
// probed read-only. Every check is said on its own line (or in one JSON document), each problem once; the
// exit code is 0 only when everything the configured features need works.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/sync/run_clock.hpp>
#include <ditio_sync/sync/run_plan.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace ditio_sync::app {

namespace json = boost::json;

namespace {

enum class result { ok, warning, failed, skipped };

std::string_view to_string(result r)
{
    switch (r) {
    case result::ok:
        return "ok";
    case result::warning:
        return "warning";
    case result::failed:
        return "failed";
    case result::skipped:
        return "skipped";
    }
    return "failed";
}

struct finding {
    explicit finding(std::string n, result r = result::ok, std::string d = {}, json::object e = {})
        : name(std::move(n)), what(r), detail(std::move(d)), extra(std::move(e))
    {
    }
    std::string name; // "database", "stream time-registrations", ...
    result what;
    std::string detail;
    json::object extra;   // --json only
    bool setting = false; // failed for a setting to fix
};

// What was found, and the exit code it comes to: the database (4) before a configuration to fix (2),
// before refused credentials (3), before anything else that failed (1).
class doctor {
public:
    void add(finding f, int code_if_failed = exit_code::sync_failed)
    {
        f.setting = f.what == result::failed && code_if_failed == exit_code::usage;
        if (f.what == result::failed) {
            auto rank = [](int c) {
                return c == exit_code::database       ? 4
                       : c == exit_code::usage        ? 3
                       : c == exit_code::auth_refused ? 2
                       : c == exit_code::ok           ? 0
                                                      : 1;
            };
            if (rank(code_if_failed) > rank(code_))
                code_ = code_if_failed;
        }
        findings_.push_back(std::move(f));
    }
    int code() const { return code_; }

    void print(std::ostream& out) const
    {
        // A setting to fix (a base that is not Ditio's) is named first: what follows it fails for it.
        std::vector<std::string> problems;
        for (const auto& f : findings_)
            if (f.what == result::failed && f.setting)
                problems.push_back(f.name);
        for (const auto& f : findings_)
            if (f.what == result::failed && !f.setting)
                problems.push_back(f.name);
        if (problems.empty())
            out << fmt::format(
                "ok: everything the configuration asks for works ({} checks)\n", findings_.size()
            );
        else
            out << fmt::format("problems: {} (exit code {})\n", fmt::join(problems, ", "), code_);
        for (const auto& f : findings_)
            out << fmt::format(
                "{}: {}{}\n",
                f.name,
                to_string(f.what),
                f.detail.empty() ? "" : fmt::format(" ({})", shown(f.detail))
            );
    }

    void print_json(std::ostream& out) const
    {
        json::array checks;
        for (const auto& f : findings_) {
            json::object o = f.extra;
            o["check"] = f.name;
            o["result"] = to_string(f.what);
            o["detail"] = util::safe_excerpt(f.detail, util::max_excerpt_bytes);
            checks.push_back(std::move(o));
        }
        json::object doc{
            {"verdict", code_ == exit_code::ok ? "ok" : "problems"},
            {"exit_code", code_},
            {"checks", std::move(checks)}};
        out << json::serialize(doc) << '\n';
    }

private:
    std::vector<finding> findings_;
    int code_ = exit_code::ok;
};

std::int64_t ms_since(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
        .count();
}

int code_for(ditio::fetch_errc e)
{
    switch (e) {
    case ditio::fetch_errc::auth_refused:
        return exit_code::auth_refused;
    case ditio::fetch_errc::misconfigured:
    case ditio::fetch_errc::not_ditio:
        return exit_code::usage;
    default:
        return exit_code::sync_failed;
    }
}

sync::run_plan probe_plan(const sync::stream_settings& configured, util::sys_micros now, bool last_week)
{
    auto s = configured;
    s.chunk_limit = 1;
    if (last_week) {
        s.full_from = util::format_iso8601_s(now - std::chrono::days{7}).substr(0, 10);
        s.full_ahead = std::chrono::days{1};
    }
    return sync::plan_full(s, now, false);
}

// One page of one record, as a full run would ask for it: over the last week, and when that has none, over
// the stream's whole window, so that a record's shape is seen.
boost::asio::awaitable<void>
probe_stream(runtime& rt, const sync::stream_settings& configured, doctor& d, std::optional<finding>& clock)
{
    auto now = util::now_micros(rt.clock);
    ditio::retry_budget budget{1};
    const auto& def = *configured.def;
    auto plan = probe_plan(configured, now, true);
    auto started = std::chrono::steady_clock::now();
    auto page = co_await rt.api.fetch_page(def.name, def.path, plan.query, std::nullopt, budget);
    // A stream whose window Ditio caps is asked for the last week only (a wider window would be refused).
    if (page && page->body.records.empty() && def.windowed && !configured.max_window) {
        plan = probe_plan(configured, now, false);
        page = co_await rt.api.fetch_page(def.name, def.path, plan.query, std::nullopt, budget);
    }
    auto ms = ms_since(started);
    finding f{fmt::format("stream {}", def.name)};
    f.extra = {{"stream", def.name}, {"ms", ms}};
    if (!page) {
        const auto& e = page.error();
        f.extra["status"] = e.status;
        // Ditio's own 404: the endpoint is missing in this environment, which `sync` reports once and
        // does not count as a failure.
        bool missing_here = e.code == ditio::fetch_errc::bad_request && e.status == 404;
        f.what = missing_here ? result::warning : result::failed;
        f.detail = missing_here
                       ? fmt::format("{}: not available in this environment; sync reports it once", e.message)
                       : e.message;
        d.add(std::move(f), code_for(e.code));
        co_return;
    }
    f.extra["status"] = 200;
    const auto& records = page->body.records;
    const auto& broken = page->body.quarantined;
    f.extra["records"] = records.size() + broken.size();
    f.extra["continuation"] = page->body.continuation.has_value();
    std::string shape = "no records yet, so their shape is unseen";
    if (!broken.empty()) {
        // Every record sync would see breaks the contract: it would quarantine them all.
        f.what = result::failed;
        f.extra["record_has_id"] = !broken.front().id.empty();
        f.extra["record_quarantined"] = broken.front().reason;
        shape = fmt::format(
            "the record breaks the record contract ({}): sync would quarantine it", broken.front().reason
        );
    } else if (!records.empty()) {
        bool has_modified = util::parse_iso8601(records.front().modified).has_value();
        f.extra["record_has_id"] = true;
        f.extra["record_has_modified"] = has_modified;
        shape = has_modified
                    ? "the record carries id and modifiedDateTime"
                    : "the record carries an id but no modifiedDateTime: a newer version cannot be told "
                      "from an older one";
        if (!has_modified)
            f.what = result::warning;
    }
    f.detail = fmt::format(
        "HTTP 200 in {} ms: {}; {}",
        ms,
        shape,
        page->body.continuation ? "a continuation token came back" : "no continuation token (end of stream)"
    );
    if (!clock && page->server_date) {
        auto skew = sync::clock_skew(*page->server_date, util::now_micros(rt.clock));
        double seconds = skew ? std::chrono::duration<double>(*skew).count() : 0.0;
        finding c{"clock"};
        c.extra = {{"skew_s", seconds}};
        c.detail = std::abs(seconds) < 1.0 ? "Ditio's clock and ours agree within a second"
                                           : fmt::format(
                                                 "Ditio's clock is {:.{}f} s {} ours",
                                                 std::abs(seconds),
                                                 std::abs(seconds) < 10 ? 1 : 0,
                                                 seconds > 0 ? "ahead of" : "behind"
                                             );
        if (skew && std::chrono::abs(*skew) > sync::clock_tolerance) {
            c.what = result::warning;
            c.detail += "; ditio-sync copes (the watermark follows the earlier clock), but fix the time here";
        }
        clock = std::move(c);
    }
    d.add(std::move(f), exit_code::sync_failed);
}

// A by-number lookup of a project number that cannot exist: Ditio answers it with its JSON 404.
boost::asio::awaitable<void> probe_integration(runtime& rt, const config::config& cfg, doctor& d)
{
    finding f{"integration"};
    if (!cfg.push.enabled) {
        f.what = result::skipped;
        f.detail = "push.enabled = false";
        d.add(std::move(f));
        co_return;
    }
    auto number = fmt::format("ditio-sync-check-{:016x}", std::random_device{}() * 0x9e3779b97f4a7c15ULL);
    ditio::retry_budget budget{1};
    auto started = std::chrono::steady_clock::now();
    auto found = co_await rt.integration.project_by_number(number, budget);
    auto ms = ms_since(started);
    f.extra = {{"ms", ms}, {"api_base", cfg.ditio.api_base}};
    if (!found) {
        f.what = result::failed;
        f.detail = found.error().message;
        f.extra["status"] = found.error().status;
        d.add(std::move(f), code_for(found.error().code));
        co_return;
    }
    f.detail = fmt::format(
        "{} answers as Ditio: {} for a project number that cannot exist, in {} ms",
        cfg.ditio.api_base,
        *found ? "a project" : "its JSON 404",
        ms
    );
    d.add(std::move(f));
}

} // namespace

int cmd_check(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto streams = settings_for(cfg, resolve_streams(cfg.sync.streams));
    auto secret = preflight(cfg, opt);
    doctor d;
    d.add(finding{
        "configuration", result::ok, opt.config_file.empty() ? default_config_path : opt.config_file});

    auto how = opt.check_thorough ? store::integrity_check::thorough : store::integrity_check::quick;
    auto how_name = opt.check_thorough ? "integrity_check" : "quick_check";
    std::optional<store::instance_lock> lock;
    std::optional<SQLite::Database> opened;
    try {
        lock.emplace(cfg.storage.path);
        // Opening tries a write too: reading works on a file this user cannot write.
        opened.emplace(open_and_migrate(cfg));
        // A file damaged in the middle opens and migrates fine; only reading every page finds it.
        auto findings = store::check_integrity(*opened, how);
        if (findings.empty())
            d.add(finding{
                "database",
                result::ok,
                fmt::format(
                    "{}, schema version {}, {} passed, writable",
                    cfg.storage.path.string(),
                    store::latest_schema_version(),
                    how_name
                ),
                {{"path", cfg.storage.path.string()}, {"schema_version", store::latest_schema_version()}}});
        else
            d.add(
                finding{
                    "database",
                    result::failed,
                    fmt::format(
                        "damaged: {} found {} in {}; restore it from a backup, or move it aside and let "
                        "ditio-sync sync anew",
                        how_name,
                        fmt::join(findings, "; "),
                        cfg.storage.path.string()
                    )},
                exit_code::database
            );
    } catch (const store::db_error& e) {
        d.add(finding{"database", result::failed, e.what()}, exit_code::database);
        opened.reset();
    }

    // The Ditio checks need no mirror: without a usable database they run beside a scratch one in memory.
    runtime rt(
        cfg,
        std::move(secret),
        opened ? std::move(*opened)
               : SQLite::Database(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
        nullptr,
        features{.streams = !streams.empty(), .push = cfg.push.enabled}
    );
    rt.run_to_end([&]() -> boost::asio::awaitable<int> {
        std::string detail;
        auto t = co_await rt.tokens.token(&detail);
        if (!t) {
            d.add(
                finding{"token", result::failed, detail},
                t.error() == auth::errc::refused ? exit_code::auth_refused : exit_code::sync_failed
            );
            for (const auto& s : streams)
                d.add(finding{fmt::format("stream {}", s.def->name), result::skipped, "no token"});
            co_return 0;
        }
        d.add(finding{
            "token",
            result::ok,
            fmt::format("{}, scopes granted: {}", cfg.ditio.identity_base, rt.tokens.granted_text()),
            {{"identity_base", cfg.ditio.identity_base}, {"scopes_granted", rt.tokens.granted_text()}}});
        // A feature whose scope the client lacks is off while the others run, as in the daemon: a warning.
        for (const auto& f : rt.tokens.features())
            d.add(finding{
                fmt::format("feature {}", f.feature),
                f.on ? result::ok : result::warning,
                f.on ? f.scope : f.reason,
                {{"scope", f.scope}, {"on", f.on}}});
        if (rt.tokens.lacks("ditioapiv3"))
            d.add(finding{"integration", result::skipped, "the token lacks ditioapiv3"});
        else
            co_await probe_integration(rt, cfg, d);
        std::optional<finding> clock;
        for (const auto& s : streams) {
            if (rt.stop.stop_requested())
                break;
            if (rt.tokens.lacks("reportingapiv1"))
                d.add(finding{
                    fmt::format("stream {}", s.def->name), result::skipped, "the token lacks reportingapiv1"}
                );
            else
                co_await probe_stream(rt, s, d, clock);
        }
        if (clock)
            d.add(std::move(*clock));
        co_return 0;
    }());

    if (opt.check_json)
        d.print_json(out);
    else
        d.print(out);
    return d.code();
}

} // namespace ditio_sync::app

// `check [--integrity]`: the configuration, the database (opened, migrated, checked, a write tried and
// rolled back) and a token from the identity server, each said on its own line.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/util/time.hpp>

#include <fmt/format.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ditio_sync::app {

namespace {

struct base_probe {
    std::vector<std::string> lines;
    bool not_ditio = false;
};

// One cheap read-only request to each base the enabled features use: a page of at most one record changed in
// the last minute of the first enabled stream, and a by-number lookup of a project number no one uses (Ditio
// answers it with its JSON 404). Only whether Ditio answered is judged here; `check` as a doctor is more.
boost::asio::awaitable<base_probe> probe_bases(runtime& rt)
{
    base_probe out;
    auto say = [&](std::string_view key, const std::string& base, const std::optional<ditio::fetch_failure>& f
               ) {
        if (f && f->code == ditio::fetch_errc::not_ditio) {
            out.not_ditio = true;
            // The key's line goes first.
            out.lines.insert(out.lines.begin(), shown(f->message));
        } else if (!f || f->code == ditio::fetch_errc::bad_request) {
            // Ditio's own JSON error is an answer from Ditio too.
            out.lines.push_back(fmt::format("{}: ok ({} answers as Ditio)", key, base));
        } else if (f->code != ditio::fetch_errc::scope_missing) {
            out.lines.push_back(shown(fmt::format("{}: {} (not judged: {})", key, base, f->message)));
        }
    };
    {
        ditio::retry_budget budget{0};
        auto streams = resolve_streams(rt.cfg.sync.streams);
        if (!streams.empty() && !rt.tokens.lacks("reportingapiv1")) {
            auto since = util::format_iso8601_s(std::chrono::time_point_cast<std::chrono::microseconds>(
                rt.clock.system_now() - std::chrono::minutes{1}
            ));
            // Named: GCC 12 mishandles a braced list inside a co_await expression.
            ditio::query one_record{{"ModifiedSince", since}, {"ChunkLimit", "1"}};
            auto page = co_await rt.api.fetch_page(
                streams.front()->name, streams.front()->path, one_record, std::nullopt, budget
            );
            say("ditio.reporting_base",
                rt.cfg.ditio.reporting_base,
                page ? std::nullopt : std::optional<ditio::fetch_failure>(page.error()));
        }
        if (rt.cfg.push.enabled && !rt.tokens.lacks("ditioapiv3")) {
            auto found =
                co_await rt.integration.project_by_number("ditio-sync-check-no-such-project", budget);
            say("ditio.api_base",
                rt.cfg.ditio.api_base,
                found ? std::nullopt : std::optional<ditio::fetch_failure>(found.error()));
        }
    }
    co_return out;
}

} // namespace

int cmd_check(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto secret = preflight(cfg, opt);
    out << "configuration: ok\n";
    auto how = opt.check_thorough ? store::integrity_check::thorough : store::integrity_check::quick;
    auto how_name = opt.check_thorough ? "integrity_check" : "quick_check";
    std::optional<store::instance_lock> lock;
    std::optional<SQLite::Database> opened;
    std::vector<std::string> findings;
    try {
        lock.emplace(cfg.storage.path);
        // Opening tries a write too: reading works on a file this user cannot write.
        opened.emplace(open_and_migrate(cfg));
        // A file damaged in the middle opens and migrates fine; only reading every page finds it.
        findings = store::check_integrity(*opened, how);
    } catch (const store::db_error& e) {
        out << fmt::format("database: {}\n", shown(e.what()));
        return exit_code::database;
    }
    auto& db = *opened;
    if (!findings.empty()) {
        out << fmt::format(
            "database: damaged ({}, {} found: {}): restore it from a backup, or move it aside and let "
            "ditio-sync sync anew\n",
            cfg.storage.path.string(),
            how_name,
            shown(fmt::format("{}", fmt::join(findings, "; ")))
        );
        return exit_code::database;
    }
    runtime rt(
        cfg, std::move(secret), std::move(db), nullptr, features{.streams = true, .push = cfg.push.enabled}
    );
    out << fmt::format(
        "database: ok ({}, schema version {}, {} passed, writable)\n",
        cfg.storage.path.string(),
        store::latest_schema_version(),
        how_name
    );
    std::string detail;
    base_probe bases;
    auto failed = rt.run_to_end([&]() -> boost::asio::awaitable<boost::system::error_code> {
        auto t = co_await rt.tokens.token(&detail);
        if (t)
            bases = co_await probe_bases(rt);
        co_return t ? boost::system::error_code{} : t.error();
    }());
    if (failed) {
        out << fmt::format("token: {}\n", shown(detail));
        return failed == auth::errc::refused ? exit_code::auth_refused : exit_code::sync_failed;
    }
    out << fmt::format(
        "token: ok ({}, scopes granted: {})\n", cfg.ditio.identity_base, rt.tokens.granted_text()
    );
    // A base that is not Ditio's is said first: everything after it would fail for that reason.
    for (const auto& line : bases.lines)
        out << line << "\n";
    for (const auto& f : rt.tokens.features())
        out << fmt::format(
            "{}: {}\n", f.feature, f.on ? fmt::format("on ({})", f.scope) : shown("off: " + f.reason)
        );
    if (bases.not_ditio)
        return exit_code::usage;
    return exit_code::ok;
}

} // namespace ditio_sync::app

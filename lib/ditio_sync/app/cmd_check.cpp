// `check [--integrity]`: the configuration, the database (opened, migrated, checked, a write tried and
// rolled back) and a token from the identity server, each said on its own line.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>

#include <fmt/format.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ditio_sync::app {

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
    runtime rt(cfg, std::move(secret), std::move(db));
    out << fmt::format(
        "database: ok ({}, schema version {}, {} passed, writable)\n",
        cfg.storage.path.string(),
        store::latest_schema_version(),
        how_name
    );
    std::string detail;
    auto failed = rt.run_to_end([&]() -> boost::asio::awaitable<boost::system::error_code> {
        auto t = co_await rt.tokens.token(&detail);
        co_return t ? boost::system::error_code{} : t.error();
    }());
    if (failed) {
        out << fmt::format("token: {}\n", shown(detail));
        return failed == auth::errc::refused ? exit_code::auth_refused : exit_code::sync_failed;
    }
    out << fmt::format("token: ok ({})\n", cfg.ditio.identity_base);
    return exit_code::ok;
}

} // namespace ditio_sync::app

// `sync [streams] [--full]`: one pass now over the named (default: all enabled) streams.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/ops/observers.hpp>
#include <ditio_sync/store/instance_lock.hpp>

#include <unistd.h>

#include <algorithm>

namespace ditio_sync::app {

namespace {

int exit_code_for(sync::run_status s)
{
    switch (s) {
    case sync::run_status::ok:
    case sync::run_status::cancelled:
    case sync::run_status::unavailable:
        return exit_code::ok;
    case sync::run_status::auth_refused:
        return exit_code::auth_refused;
    case sync::run_status::db_error:
        return exit_code::database;
    case sync::run_status::failed:
        return exit_code::sync_failed;
    }
    return exit_code::sync_failed;
}

// The most specific failure wins: database, then authentication, then any other. An endpoint missing in
// this environment is not a failure, unless every stream is missing: then the reporting base URL is more
// likely wrong.
int exit_code_for(const std::vector<sync::run_status>& statuses)
{
    if (!statuses.empty() && std::all_of(statuses.begin(), statuses.end(), [](sync::run_status s) {
            return s == sync::run_status::unavailable;
        }))
        return exit_code::sync_failed;
    int code = exit_code::ok;
    for (auto s : statuses) {
        int c = exit_code_for(s);
        if (c == exit_code::database || (c == exit_code::auth_refused && code != exit_code::database) ||
            (c == exit_code::sync_failed && code == exit_code::ok))
            code = c;
    }
    return code;
}

} // namespace

int cmd_sync(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto streams =
        settings_for(cfg, resolve_streams(opt.sync_streams.empty() ? cfg.sync.streams : opt.sync_streams));
    auto secret = preflight(cfg, opt);
    store::instance_lock lock(cfg.storage.path);
    runtime rt(
        cfg, std::move(secret), open_and_migrate(cfg), nullptr, features{.streams = true, .push = false}
    );
    auto kind = opt.sync_full ? sync::run_kind::full : sync::run_kind::automatic;
    ops::terminal_progress progress;
    if (::isatty(STDOUT_FILENO)) {
        rt.engine.set_observer(&progress);
        // One log line per page would break the progress line on the same terminal: they go to debug.
        if (::isatty(STDERR_FILENO)) {
            auto s = engine_settings_for(cfg);
            s.page_events_at_debug = true;
            rt.engine.set_settings(s);
        }
    }
    bool not_ditio = false;
    auto statuses = rt.run_to_end([&]() -> boost::asio::awaitable<std::vector<sync::run_status>> {
        std::vector<sync::run_status> out;
        for (const auto& s : streams) {
            if (rt.stop.stop_requested())
                break;
            auto report = co_await rt.engine.run(s, kind);
            out.push_back(report.status);
            // Credentials refused for one stream are refused for all: stop early, no hammering. A 403 is
            // about one stream's data (say payroll, which needs an admin-linked client): the others go on.
            if (report.status == sync::run_status::auth_refused && report.http_status != 403)
                break;
            // ditio.reporting_base is not Ditio's: every stream would meet the same page. A configuration
            // error; the run's error names the key.
            if (report.not_ditio) {
                not_ditio = true;
                break;
            }
        }
        co_return out;
    }());
    return not_ditio ? exit_code::usage : exit_code_for(statuses);
}

} // namespace ditio_sync::app

#include "app.hpp"

#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/integration_client.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/ops/notify.hpp>
#include <ditio_sync/ops/ops_server.hpp>
#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/pusher.hpp>
#include <ditio_sync/sync/scheduler.hpp>
#include <ditio_sync/sync/stream_settings.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/file_watch.hpp>
#include <ditio_sync/util/net.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/stop.hpp>
#include <ditio_sync/util/text.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <thread>

namespace ditio_sync::app {

namespace asio = boost::asio;

namespace {

constexpr const char* default_config_path = "/etc/ditio-sync/ditio-sync.toml";

struct options {
    std::string config_file;
    std::string log_level;
    std::string log_format;
    std::vector<std::string> sync_streams;
    bool sync_full = false;
    bool status_json = false;
    bool check_thorough = false; // check --integrity
    std::string reset_stream;
    // push project / push work-order
    std::string push_company;
    std::string push_number; // the project number (both)
    std::string push_external_id;
    std::string push_name;
    bool push_inactive = false;
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The named streams in catalogue order (registrations before dimensions), whatever order they were given in.
std::vector<const ditio::stream_def*> resolve_streams(const std::vector<std::string>& names)
{
    for (const auto& n : names)
        if (!ditio::find_stream(n))
            throw usage_error(
                fmt::format("unknown stream '{}' (known: {})", n, fmt::join(ditio::stream_names(), ", "))
            );
    std::vector<const ditio::stream_def*> out;
    for (const auto& s : ditio::catalogue())
        if (std::find(names.begin(), names.end(), s.name) != names.end())
            out.push_back(&s);
    return out;
}

std::vector<sync::stream_settings>
settings_for(const config::config& cfg, const std::vector<const ditio::stream_def*>& streams)
{
    std::vector<sync::stream_settings> out;
    for (const auto* s : streams)
        out.push_back(sync::resolve_stream(cfg, *s));
    return out;
}

// True when stderr is the journal stream systemd connected (JOURNAL_STREAM names its device and inode):
// then each line carries its syslog priority, so `journalctl -p warning` works.
bool stderr_is_journal()
{
    auto stream = config::process_environment()("JOURNAL_STREAM");
    struct stat st {};
    if (!stream || ::fstat(STDERR_FILENO, &st) != 0)
        return false;
    return *stream == fmt::format("{}:{}", st.st_dev, st.st_ino);
}

// Loads and validates the configuration and sets up logging; throws config_error.
void setup_logging(const config::config& cfg)
{
    auto format = cfg.log.format.value_or(
        ::isatty(STDERR_FILENO) ? config::log_format::text : config::log_format::json
    );
    log::setup(cfg.log.level, format, stderr_is_journal());
}

// `with_logging`: also set logging up from it (a reload does that only once everything checked out).
config::config load_config(const options& opt, config::need_credentials creds, bool with_logging = true)
{
    auto env = config::process_environment();
    bool explicit_file = !opt.config_file.empty();
    auto cfg = config::load(explicit_file ? opt.config_file : default_config_path, explicit_file, env);
    if (!opt.log_level.empty())
        cfg.log.level = opt.log_level;
    if (opt.log_format == "json")
        cfg.log.format = config::log_format::json;
    else if (opt.log_format == "text")
        cfg.log.format = config::log_format::text;
    auto names = ditio::stream_names();
    config::validate(cfg, names, creds);
    sync::check_streams(cfg);
    if (with_logging)
        setup_logging(cfg);
    return cfg;
}

SQLite::Database open_and_migrate(const config::config& cfg)
{
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_write);
    auto before = store::schema_version(db);
    auto applied = store::migrate(db);
    if (applied > 0)
        log::info(
            log::get("store"),
            "store.migrated",
            {{"from_version", before},
             {"to_version", store::latest_schema_version()},
             {"path", cfg.storage.path.string()}}
        );
    return db;
}

http::client_options http_options(const config::config& cfg)
{
    http::client_options o;
    o.timeout = cfg.http.timeout;
    o.max_body_bytes = cfg.http.max_body_bytes;
    o.ca_file = cfg.http.ca_file;
    o.proxy = cfg.http.proxy;
    auto env = config::process_environment();
    if (o.proxy.empty()) {
        for (const char* name : {"HTTPS_PROXY", "https_proxy"}) {
            if (auto p = env(name)) {
                auto url = util::split_url(*p);
                if (!url || url->scheme != "http")
                    throw config::config_error(
                        fmt::format("{}: must be http://host:port (user info is not supported)", name)
                    );
                o.proxy = *p;
                break;
            }
        }
    }
    if (auto n = env("NO_PROXY"))
        o.no_proxy = *n;
    else if (auto m = env("no_proxy"))
        o.no_proxy = *m;
    return o;
}

// The client secret; a secret file that others may read is taken, with a warning.
std::string read_secret(const config::config& cfg)
{
    std::vector<std::string> warnings;
    auto secret = config::resolve_client_secret(cfg, config::process_environment(), &warnings);
    util::secrets().add_secret(secret); // from now on, whatever is logged or printed
    for (const auto& w : warnings)
        log::warn(log::get("app"), "config.secret_file_readable", {{"warning", w}});
    return secret;
}

// Everything that can be wrong with the settings, checked before the database is touched: the secret,
// HTTPS_PROXY and the trust anchors. Returns the client secret; throws config_error.
std::string preflight(const config::config& cfg)
{
    auto secret = read_secret(cfg);
    http_options(cfg);
    http::make_tls_context(cfg.http.ca_file);
    return secret;
}

ditio::retry_settings retry_settings_for(const config::config& c)
{
    return {c.http.max_retries, c.http.retry_initial, c.http.retry_max};
}

sync::push_settings push_settings_for(const config::config& c)
{
    sync::push_settings s;
    s.interval = c.push.interval;
    s.check_every = c.push.check_every;
    s.retry_budget = c.http.run_retry_budget;
    s.retry = retry_settings_for(c);
    return s;
}

sync::engine_settings engine_settings_for(const config::config& c)
{
    sync::engine_settings s;
    s.overlap = c.sync.overlap;
    s.run_retry_budget = c.http.run_retry_budget;
    s.retention = {c.storage.keep_runs_for, c.storage.keep_runs};
    return s;
}

// Everything a command that talks to Ditio needs, wired together on one io_context.
struct runtime {
    // `secret` is resolved by the caller before the database is touched, so a missing secret writes nothing.
    // `metrics`, when given, counts HTTP answers, token refreshes and retries.
    runtime(const config::config& c, std::string secret, SQLite::Database db, ops::metrics* metrics = nullptr)
        : cfg(c), http(io.get_executor(), with_metrics(http_options(c), metrics), log::get("http")),
          tokens(
              http,
              auth::token_settings{
                  c.ditio.identity_base, c.ditio.client_id, std::move(secret), c.ditio.scope},
              clock,
              log::get("auth")
          ),
          api(http,
              tokens,
              c.ditio.reporting_base,
              retry_settings_for(c),
              stop,
              clock,
              log::get("http"),
              std::random_device{}()),
          integration(
              http,
              tokens,
              c.ditio.api_base,
              retry_settings_for(c),
              stop,
              clock,
              log::get("http"),
              std::random_device{}()
          ),
          db_thread(std::move(db)),
          engine(api, db_thread, clock, engine_settings_for(c), stop, log::get("sync")),
          pusher(
              integration,
              db_thread,
              clock,
              stop,
              log::get("push"),
              push_settings_for(c),
              std::random_device{}()
          ),
          signals(io, SIGINT, SIGTERM)
    {
        stop.on_stop([this] { http.shutdown(); });
        if (metrics) {
            tokens.on_refreshed([metrics] { metrics->token_refreshed(); });
            api.on_retry([metrics](std::string_view stream) { metrics->retry(stream); });
        }
        wait_for_signal();
    }

    static http::client_options with_metrics(http::client_options o, ops::metrics* metrics)
    {
        if (metrics)
            o.on_response = [metrics](int status) { metrics->http_response(status); };
        return o;
    }

    // The first signal stops cleanly; a second one, while that is under way, exits at once (SQLite's
    // journal keeps the database consistent even then).
    void wait_for_signal()
    {
        signals.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec)
                return;
            const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
            if (stop.stop_requested()) {
                log::warn(log::get("app"), "app.forced_exit", {{"signal", name}});
                std::_Exit(exit_code::sync_failed);
            }
            log::info(log::get("app"), "app.stopping", {{"signal", name}});
            stop.request_stop();
            wait_for_signal();
        });
    }

    // Runs `body` to completion on the event loop; rethrows what it threw.
    template <class T> T run_to_end(asio::awaitable<T> body)
    {
        std::exception_ptr error;
        std::optional<T> result;
        asio::co_spawn(io, std::move(body), [&](std::exception_ptr e, T r) {
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
    asio::io_context io;
    util::real_clock clock;
    util::stop_source stop;
    http::client http;
    auth::token_provider tokens;
    ditio::extraction_client api;
    ditio::integration_client integration;
    sync::db_worker db_thread;
    sync::engine engine;
    sync::pusher pusher;
    asio::signal_set signals;
};

// Hands the engine's reports to several observers.
struct fanout final : sync::observer {
    std::vector<sync::observer*> targets;
    void run_started(std::string_view stream, std::string_view mode) override
    {
        for (auto* t : targets)
            t->run_started(stream, mode);
    }
    void page_committed(const sync::page_progress& p) override
    {
        for (auto* t : targets)
            t->page_committed(p);
    }
    void run_finished(const sync::run_outcome& r) override
    {
        for (auto* t : targets)
            t->run_finished(r);
    }
};

// STATUS= lines for `systemctl status`: what the daemon is doing right now.
struct systemd_status final : sync::observer {
    explicit systemd_status(ops::notifier& n) : notify(n) {}
    ops::notifier& notify;
    void run_started(std::string_view stream, std::string_view mode) override
    {
        notify.send(fmt::format("STATUS={}: {} sync started", stream, mode));
    }
    void page_committed(const sync::page_progress& p) override
    {
        notify.send(fmt::format("STATUS={}: page {}, {} rows", p.stream, p.page, p.run_rows));
    }
    void run_finished(const sync::run_outcome& r) override
    {
        notify.send(fmt::format(
            "STATUS=idle; last run: {} {} ({} rows in {:.1f} s)",
            r.stream,
            r.status,
            r.upserted + r.deleted,
            std::chrono::duration<double>(r.duration).count()
        ));
    }
};

// The live progress line of an interactive `sync` (stdout on a terminal; the logs stay on stderr).
struct terminal_progress final : sync::observer {
    // The run's start is in the log already; printing here would share a line with it.
    void run_started(std::string_view, std::string_view) override {}
    void page_committed(const sync::page_progress& p) override
    {
        auto seconds = std::max(std::chrono::duration<double>(p.run_elapsed).count(), 0.001);
        std::fprintf(
            stdout,
            "\r\033[K%.*s: page %lld, %lld rows, %.0f rows/s",
            int(p.stream.size()),
            p.stream.data(),
            static_cast<long long>(p.page),
            static_cast<long long>(p.run_rows),
            static_cast<double>(p.run_rows) / seconds
        );
        std::fflush(stdout);
    }
    void run_finished(const sync::run_outcome& r) override
    {
        std::fprintf(
            stdout,
            "\r\033[K%.*s: %.*s, %lld pages, %lld rows upserted, %lld deleted, %.1f s\n",
            int(r.stream.size()),
            r.stream.data(),
            int(r.status.size()),
            r.status.data(),
            static_cast<long long>(r.pages),
            static_cast<long long>(r.upserted),
            static_cast<long long>(r.deleted),
            std::chrono::duration<double>(r.duration).count()
        );
        std::fflush(stdout);
    }
};

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

int cmd_sync(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto streams =
        settings_for(cfg, resolve_streams(opt.sync_streams.empty() ? cfg.sync.streams : opt.sync_streams));
    auto secret = preflight(cfg);
    store::instance_lock lock(cfg.storage.path);
    runtime rt(cfg, std::move(secret), open_and_migrate(cfg));
    auto kind = opt.sync_full ? sync::run_kind::full : sync::run_kind::automatic;
    terminal_progress progress;
    if (::isatty(STDOUT_FILENO)) {
        rt.engine.set_observer(&progress);
        // One log line per page would break the progress line on the same terminal: they go to debug.
        if (::isatty(STDERR_FILENO)) {
            auto s = engine_settings_for(cfg);
            s.page_events_at_debug = true;
            rt.engine.set_settings(s);
        }
    }
    auto statuses = rt.run_to_end([&]() -> asio::awaitable<std::vector<sync::run_status>> {
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
        }
        co_return out;
    }());
    // An endpoint missing in this environment is not a failure, unless every stream is missing: then the
    // reporting base URL is more likely wrong.
    if (!statuses.empty() && std::all_of(statuses.begin(), statuses.end(), [](sync::run_status s) {
            return s == sync::run_status::unavailable;
        }))
        return exit_code::sync_failed;
    // The most specific failure wins: database, then authentication, then any other.
    int code = exit_code::ok;
    for (auto s : statuses) {
        int c = exit_code_for(s);
        if (c == exit_code::database || (c == exit_code::auth_refused && code != exit_code::database) ||
            (c == exit_code::sync_failed && code == exit_code::ok))
            code = c;
    }
    return code;
}

// SIGHUP in `run`: the new configuration replaces `current` when it is valid and its secret readable;
// otherwise it is refused with a log line and `current` stays.
// Each enabled stream's staleness bound for /healthz: ops.stale_after, or three intervals if longer.
std::vector<ops::stream_health_spec> health_specs(const config::config& c)
{
    std::vector<ops::stream_health_spec> out;
    for (const auto* def : resolve_streams(c.sync.streams)) {
        auto s = sync::resolve_stream(c, *def);
        out.push_back({std::string(def->name), std::max(c.ops.stale_after, 3 * s.interval)});
    }
    return out;
}

// `startup` is what the long-lived objects were built from: restart-only keys are compared with it, so a
// later reload still names a change that has not taken effect.
void reload(
    const options& opt,
    const config::config& startup,
    config::config& current,
    sync::scheduler& sched,
    runtime& rt,
    ops::metrics& metrics
)
{
    auto app = log::get("app");
    try {
        auto fresh = load_config(opt, config::need_credentials::yes, false);
        auto secret = read_secret(fresh);
        auto streams = settings_for(fresh, resolve_streams(fresh.sync.streams));
        // What lives in objects built once at start-up: changing it needs a restart.
        std::vector<std::string> restart;
        auto differs = [&](const char* key, bool changed) {
            if (changed)
                restart.emplace_back(key);
        };
        differs("storage.path", fresh.storage.path != startup.storage.path);
        differs("storage.busy_timeout", fresh.storage.busy_timeout != startup.storage.busy_timeout);
        differs("ditio.identity_base", fresh.ditio.identity_base != startup.ditio.identity_base);
        differs("ditio.reporting_base", fresh.ditio.reporting_base != startup.ditio.reporting_base);
        differs("http.timeout", fresh.http.timeout != startup.http.timeout);
        differs("http.ca_file", fresh.http.ca_file != startup.http.ca_file);
        differs("http.proxy", fresh.http.proxy != startup.http.proxy);
        differs("http.max_body_mb", fresh.http.max_body_bytes != startup.http.max_body_bytes);
        differs(
            "http.max_retries, retry_initial, retry_max",
            fresh.http.max_retries != startup.http.max_retries ||
                fresh.http.retry_initial != startup.http.retry_initial ||
                fresh.http.retry_max != startup.http.retry_max
        );
        rt.tokens.set_credentials(fresh.ditio.client_id, std::move(secret), fresh.ditio.scope);
        rt.engine.set_settings(engine_settings_for(fresh));
        auto push = push_settings_for(fresh);
        push.retry =
            retry_settings_for(startup); // http.max_retries and the backoff need a restart, as said below
        rt.pusher.set_settings(push);
        differs("push.enabled", fresh.push.enabled != startup.push.enabled);
        differs("ditio.api_base", fresh.ditio.api_base != startup.ditio.api_base);
        sched.reconfigure(std::move(streams));
        metrics.set_streams(health_specs(fresh), rt.clock.system_now());
        differs(
            "ops.listen, allow_remote",
            fresh.ops.listen != startup.ops.listen || fresh.ops.allow_remote != startup.ops.allow_remote
        );
        setup_logging(fresh);
        current = std::move(fresh);
        boost::json::object fields{{"streams", fmt::format("{}", fmt::join(current.sync.streams, ","))}};
        if (!restart.empty())
            fields["needs_restart"] = fmt::format("{}", fmt::join(restart, ", "));
        log::event(app, restart.empty() ? spdlog::level::info : spdlog::level::warn, "app.reloaded", fields);
    } catch (const std::exception& e) {
        // Logging is set up from the new file only once it passed every check: this line uses the old.
        log::error(app, "app.reload_failed", {{"error", e.what()}});
    } catch (...) {
        log::error(app, "app.reload_failed", {{"error", "unknown error"}});
    }
}

// Text from a server or the database, fit for the terminal: redacted, bounded, control characters
// written out.
std::string shown(std::string_view text)
{
    return util::terminal_safe(util::safe_excerpt(text, util::max_excerpt_bytes));
}

// What `push` says about one outbox row, read back from the database after the pass.
std::string describe_outcome(const std::optional<store::outbox_outcome>& o)
{
    if (!o)
        return "the row is gone from the outbox";
    if (o->status == "sent")
        return shown(fmt::format("{}: sent (Ditio id {})", o->what, o->ditio_id.value_or("?")));
    return shown(
        fmt::format("{}: {}{}{}", o->what, o->status, o->last_error ? ": " : "", o->last_error.value_or(""))
    );
}

int exit_code_for(const sync::push_report& r)
{
    if (r.auth_refused)
        return exit_code::auth_refused;
    return r.failed > 0 || r.pending > 0 ? exit_code::sync_failed : exit_code::ok;
}

// `push`: every pending row; `push project` / `push work-order`: one row, written to the outbox first. When
// the daemon holds the database, that row is left to it and the command waits for the outcome.
int cmd_push(const options& opt, std::optional<store::outbox_kind> one)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto secret = preflight(cfg);
    std::optional<sync::push_target> target;
    if (one) {
        auto company = opt.push_company.empty() ? cfg.ditio.company_id : opt.push_company;
        if (company.empty())
            throw usage_error("--company is required when ditio.company_id is not set");
        if (opt.push_number.empty() || opt.push_name.empty() ||
            (*one == store::outbox_kind::work_order && opt.push_external_id.empty()))
            throw usage_error(
                "the project number, the name and (for a work order) the external id must not be empty"
            );
        auto db = open_and_migrate(cfg);
        store::outbox_store outbox(db);
        auto id = *one == store::outbox_kind::project
                      ? outbox.put_project(company, opt.push_number, opt.push_name, !opt.push_inactive)
                      : outbox.put_work_order(
                            company, opt.push_number, opt.push_external_id, opt.push_name, !opt.push_inactive
                        );
        target = sync::push_target{*one, id};
    }

    std::optional<store::instance_lock> lock;
    try {
        lock.emplace(cfg.storage.path);
    } catch (const store::db_error& e) {
        if (e.kind() != store::db_failure::busy)
            throw;
        if (!target)
            throw store::db_error(
                store::db_failure::busy,
                std::string(e.what()) + "; the running daemon pushes pending outbox rows itself"
            );
        // The daemon sends the row within push.check_every; wait for what became of it.
        auto db =
            store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
        auto deadline = std::chrono::steady_clock::now() + cfg.push.check_every + cfg.http.timeout +
                        std::chrono::seconds{30};
        for (;;) {
            auto outcome = store::outbox_store(db).outcome(target->kind, target->id);
            if (!outcome || outcome->status != "pending" || std::chrono::steady_clock::now() > deadline) {
                std::cout << describe_outcome(outcome) << "\n";
                return outcome && outcome->status == "sent" ? exit_code::ok : exit_code::sync_failed;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{200});
        }
    }

    runtime rt(cfg, std::move(secret), open_and_migrate(cfg));
    auto report = rt.run_to_end(rt.pusher.push_pending(target));
    if (target) {
        auto outcome = rt.db_thread.outbox_unsafe().outcome(target->kind, target->id); // the pass is over
        std::cout << describe_outcome(outcome) << "\n";
    } else {
        std::cout << fmt::format(
            "{} sent, {} failed, {} still pending\n", report.sent, report.failed, report.pending
        );
    }
    return exit_code_for(report);
}

// Health is right before the first run: the enabled streams, their last successes and watermarks from
// the database, and a check that fails at once when the database file goes away under the daemon (its
// directory removed).
void prime_health(
    ops::metrics& metrics, const config::config& cfg, runtime& rt, std::chrono::system_clock::time_point now
)
{
    if (auto opened = store::file_id_of(cfg.storage.path))
        metrics.set_database_check([path = cfg.storage.path, id = *opened] {
            return store::database_file_problem(path, id);
        });
    metrics.set_streams(health_specs(cfg), now);
    auto at = [](const std::optional<std::string>& t
              ) -> std::optional<std::chrono::system_clock::time_point> {
        if (auto p = t ? util::parse_iso8601(*t) : std::nullopt)
            return std::chrono::time_point_cast<std::chrono::system_clock::duration>(*p);
        return std::nullopt;
    };
    for (const auto& s : rt.db_thread.store_unsafe().load_all()) // no run is in flight yet
        metrics.seed(s.stream, at(s.last_success_at), at(s.watermark), s.unavailable_at.has_value());
}

// Runs the scheduler, and the outbox loop beside it, until a stop or a crash; true when either crashed.
bool run_until_stopped(const config::config& cfg, runtime& rt, sync::scheduler& sched)
{
    // An unexpected exception must not leave the daemon half-alive: it stops, and systemd restarts it.
    // Another program's commit to the outbox shows as a write to the write-ahead log: watching it, the idle
    // daemon does not poll. Without inotify it looks every push.check_every instead.
    std::optional<util::file_watch> outbox_watch;
    if (cfg.push.enabled) {
        try {
            outbox_watch.emplace(rt.io.get_executor(), cfg.storage.path.string() + "-wal");
        } catch (const std::exception& e) {
            log::warn(log::get("push"), "push.watch_unavailable", {{"error", e.what()}});
        }
    }
    bool crashed = false;
    std::exception_ptr push_failure;
    try {
        rt.run_to_end([&]() -> asio::awaitable<int> {
            // The outbox has its own loop beside the scheduler; if it dies, the daemon stops with it.
            if (cfg.push.enabled && outbox_watch)
                rt.pusher.watch(&*outbox_watch);
            if (cfg.push.enabled)
                asio::co_spawn(rt.io, rt.pusher.run(), [&](std::exception_ptr e) {
                    if (e) {
                        push_failure = e;
                        rt.stop.request_stop();
                    }
                });
            // However the scheduler ends, the watchdog and SIGHUP waits must end with it.
            std::exception_ptr failure;
            try {
                co_await sched.run();
            } catch (...) {
                failure = std::current_exception();
            }
            rt.stop.request_stop();
            if (failure)
                std::rethrow_exception(failure);
            co_return 0;
        }());
    } catch (const std::exception& e) {
        crashed = true;
        log::error(log::get("app"), "sync.scheduler_crashed", {{"error", e.what()}});
    }
    if (push_failure) {
        crashed = true;
        try {
            std::rethrow_exception(push_failure);
        } catch (const std::exception& e) {
            log::error(log::get("app"), "push.crashed", {{"error", e.what()}});
        }
    }
    return crashed;
}

int cmd_run(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto streams = settings_for(cfg, resolve_streams(cfg.sync.streams));
    auto secret = preflight(cfg);
    store::instance_lock lock(cfg.storage.path);
    util::real_clock wall;
    ops::metrics metrics(wall.system_now());
    runtime rt(cfg, std::move(secret), open_and_migrate(cfg), &metrics);
    sync::scheduler sched(
        rt.engine,
        std::move(streams),
        sync::schedule_settings{},
        rt.clock,
        rt.stop,
        log::get("sync"),
        std::random_device{}()
    );
    auto env = config::process_environment();
    ops::notifier notify(env("NOTIFY_SOCKET").value_or(""));
    auto notify_or_log = [&](std::string_view message) {
        std::string error;
        if (!notify.send(message, &error))
            log::warn(log::get("app"), "app.notify_failed", {{"error", error}});
    };
    systemd_status status_lines(notify);
    fanout observers;
    observers.targets.push_back(&status_lines);
    observers.targets.push_back(&metrics);
    prime_health(metrics, cfg, rt, wall.system_now());
    std::optional<ops::ops_server> server;
    if (!cfg.ops.listen.empty()) {
        server.emplace(
            rt.io.get_executor(),
            cfg.ops.listen,
            cfg.ops.allow_remote,
            metrics,
            [&] { return wall.system_now(); },
            log::get("ops")
        );
        server->start();
        rt.stop.on_stop([&] { server->stop(); });
    }
    rt.engine.set_observer(&observers);
    rt.stop.on_stop([&] { notify_or_log("STOPPING=1\nSTATUS=stopping"); });

    // SIGHUP: read the configuration (and the secret) again; a bad one is refused and the old one kept.
    // Runs in progress keep their fixed parameters; storage, base URLs and [http] need a restart.
    asio::signal_set hup(rt.io, SIGHUP);
    config::config current = cfg;
    std::function<void()> wait_for_hup = [&] {
        hup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            reload(opt, cfg, current, sched, rt, metrics);
            wait_for_hup();
        });
    };
    wait_for_hup();
    rt.stop.on_stop([&] { hup.cancel(); });

    // The database is open and migrated: ready. Then watchdog pings from the event loop, so a stuck
    // loop stops them and systemd restarts the service.
    notify_or_log(fmt::format("READY=1\nSTATUS=ready: {} streams", cfg.sync.streams.size()));
    if (auto interval = ops::watchdog_interval(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), ::getpid())) {
        asio::co_spawn(
            rt.io,
            [&, every = std::max<std::chrono::microseconds>(*interval / 2, std::chrono::milliseconds{1})](
            ) -> asio::awaitable<void> {
                do
                    notify_or_log("WATCHDOG=1");
                while (co_await rt.stop.sleep_for(every));
            },
            asio::detached
        );
    }
    log::info(
        log::get("app"),
        "app.started",
        {{"version", DITIO_SYNC_VERSION},
         {"streams", fmt::format("{}", fmt::join(cfg.sync.streams, ","))},
         {"interval_s", std::chrono::duration_cast<std::chrono::seconds>(cfg.sync.interval).count()},
         {"push", cfg.push.enabled},
         {"database", cfg.storage.path.string()}}
    );
    bool crashed = run_until_stopped(cfg, rt, sched);
    log::info(log::get("app"), "app.stopped", {{"crashed", crashed}});
    return crashed ? exit_code::sync_failed : exit_code::ok;
}

int cmd_check(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto secret = preflight(cfg);
    std::cout << "configuration: ok\n";
    store::instance_lock lock(cfg.storage.path);
    auto db = open_and_migrate(cfg);
    // A file damaged in the middle opens and migrates fine; only reading every page finds it.
    auto findings = store::check_integrity(db, opt.check_thorough);
    if (!findings.empty()) {
        std::cout << fmt::format(
            "database: damaged ({}, {} found: {}): restore it from a backup, or move it aside and let "
            "ditio-sync sync anew\n",
            cfg.storage.path.string(),
            opt.check_thorough ? "integrity_check" : "quick_check",
            shown(fmt::format("{}", fmt::join(findings, "; ")))
        );
        return exit_code::database;
    }
    runtime rt(cfg, std::move(secret), std::move(db));
    std::cout << fmt::format(
        "database: ok ({}, schema version {}, {} passed)\n",
        cfg.storage.path.string(),
        store::latest_schema_version(),
        opt.check_thorough ? "integrity_check" : "quick_check"
    );
    std::string detail;
    auto ok = rt.run_to_end([&]() -> asio::awaitable<boost::system::error_code> {
        auto t = co_await rt.tokens.token(&detail);
        co_return t ? boost::system::error_code{} : t.error();
    }());
    if (ok) {
        std::cout << fmt::format("token: {}\n", shown(detail));
        return ok == auth::errc::refused ? exit_code::auth_refused : exit_code::sync_failed;
    }
    std::cout << fmt::format("token: ok ({})\n", cfg.ditio.identity_base);
    return exit_code::ok;
}

int cmd_migrate(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    store::instance_lock lock(cfg.storage.path);
    auto db = open_and_migrate(cfg);
    std::cout << fmt::format("{}: schema version {}\n", cfg.storage.path.string(), store::schema_version(db));
    return exit_code::ok;
}

int cmd_reset(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    auto streams = resolve_streams({opt.reset_stream});
    store::instance_lock lock(cfg.storage.path);
    auto db = open_and_migrate(cfg);
    store::sync_store st(db);
    util::real_clock clock;
    st.reset(
        opt.reset_stream,
        util::format_iso8601_ms(std::chrono::time_point_cast<std::chrono::microseconds>(clock.system_now()))
    );
    log::info(log::get("app"), "sync.stream_reset", {{"stream", opt.reset_stream}});
    std::cout << fmt::format(
        "{}: watermark and checkpoint cleared; the next run is a full sync\n", opt.reset_stream
    );
    return exit_code::ok;
}

int cmd_status(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
    auto version = store::schema_version(db);
    if (version > store::latest_schema_version())
        throw store::db_error(
            store::db_failure::schema_too_new,
            fmt::format(
                "the database has schema version {}, newer than this ditio-sync knows ({})",
                version,
                store::latest_schema_version()
            )
        );
    if (version == 0)
        throw store::db_error(
            store::db_failure::cannot_open, "the database has no schema yet; run `ditio-sync migrate`"
        );
    // status opens the database read-only, so it cannot upgrade it; the daemon does that when it starts.
    if (version < store::latest_schema_version())
        throw store::db_error(
            store::db_failure::cannot_open,
            fmt::format(
                "the database has schema version {}, older than this ditio-sync's ({}); run `ditio-sync "
                "migrate` or start the daemon",
                version,
                store::latest_schema_version()
            )
        );
    auto streams = resolve_streams(cfg.sync.streams);
    auto status = ops::collect_status(db, streams, cfg.sync.overlap);
    auto note = store::read_only_note(db);
    if (opt.status_json) {
        if (!note.empty())
            status.as_object()["note"] = note;
        std::cout << boost::json::serialize(status) << "\n";
    } else {
        if (!note.empty())
            std::cout << "note: " << note << "\n";
        std::cout << ops::format_status_text(status);
    }
    return exit_code::ok;
}

} // namespace

int run(int argc, char** argv)
{
    options opt;
    CLI::App cli{"ditio-sync: a SQLite mirror of Ditio data", "ditio-sync"};
    cli.set_version_flag("--version", std::string("ditio-sync ") + DITIO_SYNC_VERSION);
    cli.add_option(
        "--config", opt.config_file, "configuration file (default /etc/ditio-sync/ditio-sync.toml)"
    );
    cli.add_option("--log-level", opt.log_level, "trace, debug, info, warning, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}));
    cli.add_option("--log-format", opt.log_format, "json or text")->check(CLI::IsMember({"json", "text"}));
    cli.require_subcommand(1);

    auto* run_cmd =
        cli.add_subcommand("run", "the daemon: schedule every enabled stream until SIGTERM/SIGINT");
    auto* sync_cmd = cli.add_subcommand("sync", "one pass now over the named (default: all enabled) streams");
    sync_cmd->add_option("streams", opt.sync_streams, "streams to sync");
    sync_cmd->add_flag("--full", opt.sync_full, "full re-sync; rows not returned are marked deleted");
    auto* status_cmd =
        cli.add_subcommand("status", "per stream: mode, watermark, rows, last run, last error");
    status_cmd->add_flag("--json", opt.status_json, "machine-readable output");
    auto* check_cmd =
        cli.add_subcommand("check", "validate config, reach the token endpoint, open/migrate the database");
    check_cmd->add_flag(
        "--integrity",
        opt.check_thorough,
        "check every page of the database thoroughly (integrity_check; slower than the default quick_check)"
    );
    auto* migrate_cmd = cli.add_subcommand("migrate", "create or upgrade the database schema, then exit");
    auto* reset_cmd =
        cli.add_subcommand("reset", "forget a stream's watermark and checkpoint (next run is full)");
    reset_cmd->add_option("stream", opt.reset_stream, "stream to reset")->required();
    auto* push_cmd =
        cli.add_subcommand("push", "send pending outbox rows (projects, work orders) to the Integration API");
    push_cmd->require_subcommand(0, 1);
    auto* push_project_cmd = push_cmd->add_subcommand("project", "add one project to the outbox and send it");
    push_project_cmd->add_option("--number", opt.push_number, "project number")->required();
    push_project_cmd->add_option("--name", opt.push_name, "project name")->required();
    push_project_cmd->add_option("--company", opt.push_company, "company id (default ditio.company_id)");
    push_project_cmd->add_flag("--inactive", opt.push_inactive, "the project is inactive");
    auto* push_work_order_cmd =
        push_cmd->add_subcommand("work-order", "add one work order to the outbox and send it");
    push_work_order_cmd->add_option("--project-number", opt.push_number, "its project's number")->required();
    push_work_order_cmd
        ->add_option("--external-id", opt.push_external_id, "work order id, unique in the project")
        ->required();
    push_work_order_cmd->add_option("--name", opt.push_name, "work order name")->required();
    push_work_order_cmd->add_option("--company", opt.push_company, "company id (default ditio.company_id)");
    push_work_order_cmd->add_flag("--inactive", opt.push_inactive, "the work order is inactive");

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 says "A subcommand is required" for a misspelt command; name the word instead.
        if (cli.get_subcommands().empty() && !cli.remaining().empty() &&
            cli.remaining().front().front() != '-') {
            std::fprintf(
                stderr,
                "ditio-sync: unknown command '%s' (known: run, sync, status, check, migrate, reset, push)\n",
                cli.remaining().front().c_str()
            );
            return exit_code::usage;
        }
        int rc = cli.exit(e);
        return rc == 0 ? exit_code::ok : exit_code::usage;
    }

    auto fail = [](std::string_view event, const std::string& what, int code) {
        // Logging may not be set up yet (a bad configuration): say it on stderr plainly as well.
        log::error(log::get("app"), event, {{"error", what}, {"exit_code", code}});
        return code;
    };
    try {
        if (*run_cmd)
            return cmd_run(opt);
        if (*sync_cmd)
            return cmd_sync(opt);
        if (*status_cmd)
            return cmd_status(opt);
        if (*check_cmd)
            return cmd_check(opt);
        if (*migrate_cmd)
            return cmd_migrate(opt);
        if (*reset_cmd)
            return cmd_reset(opt);
        if (*push_cmd)
            return cmd_push(
                opt,
                *push_project_cmd      ? std::optional{store::outbox_kind::project}
                : *push_work_order_cmd ? std::optional{store::outbox_kind::work_order}
                                       : std::nullopt
            );
    } catch (const config::config_error& e) {
        return fail("app.config_error", e.what(), exit_code::usage);
    } catch (const usage_error& e) {
        return fail("app.usage_error", e.what(), exit_code::usage);
    } catch (const store::db_error& e) {
        return fail("app.database_error", e.what(), exit_code::database);
    }
    return exit_code::usage;
}

} // namespace ditio_sync::app

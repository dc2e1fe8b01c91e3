#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace ditio_sync::app {

namespace {

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

} // namespace

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

void setup_logging(const config::config& cfg)
{
    auto format = cfg.log.format.value_or(::isatty(STDERR_FILENO) ? log::format::text : log::format::json);
    log::setup(
        cfg.log.level,
        format,
        stderr_is_journal() ? log::priority_prefix::journal : log::priority_prefix::none
    );
}

config::config load_config(const options& opt, config::need_credentials creds, logging how)
{
    auto env = config::process_environment();
    bool explicit_file = !opt.config_file.empty();
    auto cfg = config::load(explicit_file ? opt.config_file : default_config_path, explicit_file, env);
    if (!opt.log_level.empty())
        cfg.log.level = opt.log_level;
    if (opt.log_format == "json")
        cfg.log.format = log::format::json;
    else if (opt.log_format == "text")
        cfg.log.format = log::format::text;
    auto names = ditio::stream_names();
    config::validate(cfg, names, creds);
    sync::check_streams(cfg);
    if (how == logging::set_up)
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
    o.no_proxy = cfg.http.no_proxy;
    return o;
}

std::string read_secret(const config::config& cfg)
{
    std::vector<std::string> warnings;
    auto secret = config::resolve_client_secret(cfg, config::process_environment(), &warnings);
    util::secrets().add_secret(secret); // from now on, whatever is logged or printed
    for (const auto& w : warnings)
        log::warn(log::get("app"), "config.secret_file_readable", {{"warning", w}});
    return secret;
}

std::string preflight(const config::config& cfg)
{
    auto secret = read_secret(cfg);
    config::check_proxy_environment(cfg);
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

std::vector<ops::stream_health_spec>
health_specs(const config::config& c, const std::vector<sync::stream_settings>& streams)
{
    std::vector<ops::stream_health_spec> out;
    for (const auto& s : streams)
        out.push_back({std::string(s.def->name), std::max(c.ops.stale_after, 3 * s.interval)});
    return out;
}

std::string shown(std::string_view text)
{
    return util::terminal_safe(util::safe_excerpt(text, util::max_excerpt_bytes));
}

} // namespace ditio_sync::app

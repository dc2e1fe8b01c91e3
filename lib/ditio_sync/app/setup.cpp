#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <fmt/format.h>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

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

// Set once this process, started as root, became the service user; the secret it read as root before.
bool switched_user = false;
std::optional<std::string> secret_read_as_root;

// A read-only database's error, with which file this user cannot write and whose it is.
store::db_error with_write_access(const store::db_error& e, const std::filesystem::path& path)
{
    if (e.kind() != store::db_failure::read_only && e.kind() != store::db_failure::cannot_open)
        return e;
    auto problem = store::write_access_problem(path);
    if (problem.empty())
        return e;
    return store::db_error(e.kind(), fmt::format("{}; {}", e.what(), problem));
}

// ditio.company_id meant both the company pushes write to and a CompanyId filter on every stream; it still
// does (a mirror is never widened or narrowed behind the operator's back), said at every start with the
// lines that say each meaning on its own (docs/live-ditio.md section 5).
void warn_deprecated_company(const config::config& cfg)
{
    const auto& id = cfg.ditio.company_id;
    std::vector<std::string> means;
    if (cfg.push.company_id.empty())
        means.emplace_back(fmt::format("push project / push work-order write to company {}", id));
    if (!cfg.sync.company_id)
        means.emplace_back(fmt::format(
            "every stream without its own company_id reads only company {}'s data (CompanyId={})", id, id
        ));
    log::warn(
        log::get("app"),
        "config.deprecated_key",
        {{"key", "ditio.company_id"},
         {"means",
          means.empty() ? std::string("nothing: push.company_id and sync.company_id are both set")
                        : fmt::format("{}", fmt::join(means, "; and "))},
         {"hint",
          fmt::format(
              "replace ditio.company_id with [push] company_id = \"{}\" (the company to write to), and add "
              "[sync] company_id = \"{}\" only if the mirror should hold that company's data alone; without "
              "it every company's data the client may read is mirrored",
              id,
              id
          )}}
    );
}

} // namespace

std::vector<const ditio::stream_def*> resolve_streams(const std::vector<std::string>& names)
{
    for (const auto& n : names)
        if (!ditio::find_stream(n))
            throw usage_error(
                fmt::format("unknown stream '{}' ({})", n, util::suggest(n, ditio::stream_names()))
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

void setup_early_logging(const options& opt)
{
    auto format = opt.log_format == "json"   ? log::format::json
                  : opt.log_format == "text" ? log::format::text
                  : ::isatty(STDERR_FILENO)  ? log::format::text
                                             : log::format::json;
    log::setup(
        opt.log_level.empty() ? std::string("info") : opt.log_level,
        format,
        stderr_is_journal() ? log::priority_prefix::journal : log::priority_prefix::none
    );
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
    std::error_code ec;
    bool no_file = !explicit_file && !std::filesystem::exists(default_config_path, ec);
    auto cfg = config::load(explicit_file ? opt.config_file : default_config_path, explicit_file, env);
    if (!opt.log_level.empty())
        cfg.log.level = opt.log_level;
    if (opt.log_format == "json")
        cfg.log.format = log::format::json;
    else if (opt.log_format == "text")
        cfg.log.format = log::format::text;
    try {
        auto names = ditio::stream_names();
        config::validate(cfg, names, creds);
        sync::check_streams(cfg);
    } catch (const config::config_error& e) {
        if (!no_file)
            throw;
        throw config::config_error(fmt::format(
            "{} (there is no configuration file at {}; write one, or name one with --config)",
            e.what(),
            default_config_path
        ));
    }
    if (how == logging::set_up)
        setup_logging(cfg);
    // Said once logging is set up; the environment alone may configure a run, so it is no error.
    if (no_file && how == logging::set_up)
        log::warn(
            log::get("app"),
            "config.file_missing",
            {{"path", default_config_path},
             {"hint", "defaults and the environment apply; --config names a file"}}
        );
    if (!cfg.ditio.company_id.empty() && how == logging::set_up)
        warn_deprecated_company(cfg);
    return cfg;
}

void become_database_owner(const config::config& cfg, announce say)
{
    if (::geteuid() != 0)
        return;
    // Only the service's account: taking on whichever user owns a directory would hand that user the
    // mirror (a folder in /tmp, a shared one). $DITIO_SYNC_SERVICE_USER names another account (a unit
    // with another User=).
    auto env = config::process_environment();
    auto service_user = env("DITIO_SYNC_SERVICE_USER").value_or(std::string(service_user_name));
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwnam_r(service_user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
        return;
    // The database file when it exists, else the directory it will be created in; a symlink's own owner.
    const auto& path = cfg.storage.path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
        if (::lstat(dir.c_str(), &st) != 0)
            return; // opening it says what is wrong
    }
    if (st.st_uid != found->pw_uid)
        return;
    // Groups first: after setuid there is no right left to change them.
    bool switched = ::initgroups(found->pw_name, found->pw_gid) == 0 && ::setgid(found->pw_gid) == 0 &&
                    ::setuid(found->pw_uid) == 0;
    if (!switched)
        throw config::config_error(fmt::format(
            "storage.path: {} belongs to the service user {}; running as that user failed ({}): run "
            "ditio-sync as {} (runuser -u {} -- ditio-sync ...)",
            path.string(),
            service_user,
            std::strerror(errno),
            service_user,
            service_user
        ));
    switched_user = true;
    log::event(
        log::get("app"),
        say == announce::yes ? spdlog::level::info : spdlog::level::debug,
        "app.switched_user",
        {{"user", service_user}, {"uid", static_cast<std::int64_t>(found->pw_uid)}, {"path", path.string()}}
    );
}

SQLite::Database open_and_migrate(const config::config& cfg)
{
    auto db = [&] {
        try {
            return store::open_database(
                cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_write
            );
        } catch (const store::db_error& e) {
            throw with_write_access(e, cfg.storage.path);
        }
    }();
    auto before = store::schema_version(db);
    auto applied = [&] {
        try {
            return store::migrate(db);
        } catch (const store::db_error& e) {
            throw with_write_access(e, cfg.storage.path);
        }
    }();
    // A file this user can read but not write (a leftover -shm of root's, say) would fail the first
    // page, long after the start; say so now, naming the file.
    store::check_writable(db, cfg.storage.path);
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

bool packaged_secret_applies(const options& opt)
{
    std::error_code ec;
    if (!opt.config_file.empty() &&
        std::filesystem::weakly_canonical(opt.config_file, ec) != default_config_path)
        return false;
    // The packaged file configures the packaged install; the environment pointing elsewhere (a test
    // environment, say) must not be sent the production secret.
    auto env = config::process_environment();
    for (const char* name :
         {"DITIO_IDENTITY_BASE", "DITIO_API_BASE", "DITIO_REPORTING_BASE", "DITIO_CLIENT_ID"})
        if (env(name))
            return false;
    return std::filesystem::exists(default_config_path, ec);
}

std::string read_secret(const config::config& cfg, const options& opt)
{
    // Read as root before the switch; the service user may not read it again (a reload).
    if (switched_user && secret_read_as_root)
        return *secret_read_as_root;
    config::secret_sources extra;
    extra.given = opt.secret_given;
    if (opt.secret_file != "-")
        extra.file = opt.secret_file;
    if (packaged_secret_applies(opt))
        extra.fallback = packaged_secret_path;
    std::vector<std::string> warnings;
    auto secret = config::resolve_client_secret(cfg, config::process_environment(), &warnings, extra);
    util::secrets().add_secret(secret); // from now on, whatever is logged or printed
    for (const auto& w : warnings)
        log::warn(log::get("app"), "config.secret_file_readable", {{"warning", w}});
    return secret;
}

std::string preflight(const config::config& cfg, const options& opt)
{
    auto secret = read_secret(cfg, opt);
    // Switched before the other files are checked: the process reads them again as that user.
    become_database_owner(cfg, announce::yes);
    if (switched_user)
        secret_read_as_root = secret;
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

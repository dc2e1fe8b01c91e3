// Typed configuration: defaults < TOML file < environment < command line, validated once, then immutable.
// Errors throw config_error with a message that names the offending key and never contains a secret.
// Every default is defined here, once: the settings structs of the layers above take theirs from these
// sections.
#pragma once

#include <ditio_sync/log/format.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ditio_sync::config {

class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Named here for the [log] table; log owns it.
using log_format = log::format;

struct ditio_section {
    std::string identity_base = "https://identity.ditio.app";
    std::string api_base = "https://core-api.ditio.app/core";
    std::string reporting_base = "https://core-api.ditio.app/reporting";
    std::string client_id;
    std::string client_secret; // discouraged in the file; see resolve_client_secret
    std::string client_secret_file;
    // Empty (the default): the scopes the enabled features need, asked together and, when the identity server
    // refuses that with invalid_scope, one by one (docs/live-ditio.md section 4). Set: asked for as written.
    std::string scope;
    // Deprecated: push.company_id and sync.company_id together, as before they existed (each new key wins
    // over it for its own meaning); see company_to_write and company_filter.
    std::string company_id;
};

struct storage_section {
    std::filesystem::path path = "/var/lib/ditio-sync/ditio.db";
    std::chrono::milliseconds busy_timeout{5000};
    // sync_runs keeps, per stream, the runs started within keep_runs_for, at most keep_runs of them.
    std::chrono::milliseconds keep_runs_for{std::chrono::hours{24 * 90}};
    std::int64_t keep_runs = 10000;
};

struct sync_section {
    std::chrono::milliseconds interval{std::chrono::minutes{15}};
    std::chrono::milliseconds overlap{std::chrono::minutes{10}};
    int chunk_limit = 5000;
    std::string full_from = "2020-01-01";
    std::chrono::milliseconds full_ahead{std::chrono::hours{24 * 366}};
    std::vector<std::string> streams{"time-registrations"};
    // The CompanyId filter of every stream that sets none of its own; unset (and empty) filters nothing.
    std::optional<std::string> company_id;
};

// A stream parameter as written in TOML; its type is checked against the stream catalogue later.
using param_value = std::variant<bool, std::string, std::vector<std::string>>;

// [streams."<name>"]: overrides of the [sync] defaults and the stream's own Ditio parameters.
struct stream_section {
    std::optional<std::chrono::milliseconds> interval;
    std::optional<int> chunk_limit;
    std::optional<std::string> full_from;
    std::optional<std::chrono::milliseconds> full_ahead;
    std::optional<std::chrono::milliseconds> max_window; // split full-sync windows to at most this
    // A watermark older than this (counting the overlap) makes the run a full re-sync without asking
    // Ditio for ModifiedSince that far back.
    std::optional<std::chrono::milliseconds> max_incremental_age;
    std::map<std::string, param_value> params; // config key (snake_case) -> value
};

struct http_section {
    std::chrono::milliseconds timeout{std::chrono::seconds{60}};
    std::string ca_file;
    std::string proxy;        // http.proxy, else $HTTPS_PROXY (load() reads it)
    std::string proxy_source; // the environment variable `proxy` came from; empty: the file
    std::string no_proxy;     // $NO_PROXY: hosts reached without the proxy
    std::size_t max_body_bytes = 256u * 1024u * 1024u;
    int max_retries = 6;
    int run_retry_budget = 30; // retries of all requests of one run together
    std::chrono::milliseconds retry_initial{std::chrono::seconds{1}};
    std::chrono::milliseconds retry_max{std::chrono::seconds{60}};
};

struct log_section {
    std::string level = "info";
    std::optional<log_format> format; // unset: json unless stderr is a terminal
};

// [ops]: the metrics and health endpoint (ops::ops_server).
struct ops_section {
    std::string listen;        // "host:port" (IP literal or localhost); empty: no endpoint
    bool allow_remote = false; // needed to bind an address other than loopback
    std::chrono::milliseconds stale_after{std::chrono::hours{1}}; // health: least staleness bound
};

// [push]: the outbox (sync::pusher) in the daemon; `push` commands send whatever enabled says.
struct push_section {
    bool enabled = true;
    std::chrono::milliseconds interval{std::chrono::minutes{5}}; // rows left pending are retried this often
    std::chrono::milliseconds check_every{std::chrono::seconds{2}}; // how often the daemon looks for new rows
    std::string company_id; // `push project` / `push work-order` write to it when --company is not given
};

struct config {
    ditio_section ditio;
    storage_section storage;
    sync_section sync;
    std::map<std::string, stream_section> streams; // keyed by stream name
    http_section http;
    log_section log;
    ops_section ops;
    push_section push;
};

// The company `push project` / `push work-order` write to without --company: push.company_id, else the
// deprecated ditio.company_id; empty when neither is set.
std::string company_to_write(const config& c);
// The CompanyId filter every stream without its own sends: sync.company_id when set (even empty), else the
// deprecated ditio.company_id; empty filters nothing.
std::string company_filter(const config& c);

// Looks up an environment variable; injected so tests need not touch the process environment.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;
env_lookup process_environment();

// What the loader accepts before it hands a file to the TOML parser, which is recursive: larger, deeper or
// longer-keyed input is refused with config_error (a 50,000-part dotted key would crash it).
inline constexpr std::size_t max_file_bytes = 1 << 20;
inline constexpr int max_nesting = 16;   // [ and { open at once
inline constexpr int max_key_parts = 16; // parts of one dotted key
// A client secret file holds one line; anything larger is not one (/dev/zero, a log file named by mistake).
inline constexpr std::size_t max_secret_bytes = 4096;

// Every duration key and its accepted range (inclusive), for validate() and the documentation.
struct duration_range {
    std::string_view key; // "sync.interval"; "streams.*.interval" for every stream's
    std::chrono::milliseconds min, max;
};
std::span<const duration_range> duration_ranges();

// What a running daemon does with a key's new value on SIGHUP: use it, or keep the old until a restart.
enum class on_reload { applies, restart };

// The keys ("http.timeout") whose values differ between `running` and `fresh` and that are marked in the key
// table as needing a restart; in the table's order.
std::vector<std::string> keys_needing_restart(const config& running, const config& fresh);

// ops.listen: "host:port" with an IPv4 literal, a bracketed IPv6 literal ("[::1]:9464") or localhost (any
// case), and a port 0..65535. The one parser of the address: validate() and the ops endpoint use it.
struct listen_address {
    std::string host; // lower-case, without brackets
    std::uint16_t port = 0;
};
std::optional<listen_address> parse_listen_address(std::string_view text);

// A proxy from the environment is checked only by commands that talk to Ditio (it would stop `status` for
// nothing): throws config_error naming the variable when it is not http://host:port.
void check_proxy_environment(const config& c);

// Reads `file` when it exists (a missing default file is not an error when `required` is false),
// then applies the environment overrides (DITIO_IDENTITY_BASE, DITIO_API_BASE, DITIO_REPORTING_BASE,
// DITIO_CLIENT_ID, DITIO_SYNC_DB), and HTTPS_PROXY (when http.proxy is not set) and NO_PROXY.
// DITIO_CLIENT_SECRET is read by resolve_client_secret only, so the secret is never part of a config value.
// Throws config_error.
config load(const std::filesystem::path& file, bool required, const env_lookup& env);

// Parses TOML text (for tests and load()). `origin` names the source in error messages.
config parse(std::string_view toml_text, std::string_view origin);

enum class need_credentials { yes, no };

// Checks values and their combinations; `known_streams` are the stream names the binary supports.
void validate(const config& c, std::span<const std::string_view> known_streams, need_credentials creds);

// Where the client secret may come from besides the configuration and the environment.
struct secret_sources {
    std::optional<std::string> given; // --secret-file -: standard input's line, read once at start
    std::filesystem::path file;       // --secret-file PATH
    // Looked at last, when nothing else names a secret: the packaged credential file, so that root can
    // run `check` by hand on a packaged install. Only with the default configuration (a test file must
    // never pick up the production secret).
    std::filesystem::path fallback;
};

// One line from standard input (a pipe or a redirected file, not a terminal), for --secret-file -.
// Throws config_error.
std::string read_secret_stdin();

// The client secret, from the first of: --secret-file, $DITIO_CLIENT_SECRET,
// $CREDENTIALS_DIRECTORY/client_secret, ditio.client_secret_file, ditio.client_secret, and
// `extra.fallback` when it exists. Trailing newlines are removed. Throws config_error
// (naming the source, never the value) when none is set, or a file cannot be read, is not a regular file
// or is larger than max_secret_bytes. A file that other users may read is taken, and `warnings` (when
// given) receives a line saying so.
std::string resolve_client_secret(
    const config& c,
    const env_lookup& env,
    std::vector<std::string>* warnings = nullptr,
    const secret_sources& extra = {}
);

} // namespace ditio_sync::config

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/util/duration.hpp>
#include <ditio_sync/util/net.hpp>
#include <ditio_sync/util/text.hpp>
#include <ditio_sync/util/time.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace ditio_sync::config {
namespace {

[[noreturn]] void fail(std::string_view origin, std::string_view key, std::string_view what)
{
    throw config_error(fmt::format("{}: {}: {}", origin, key, what));
}

std::string read_string(const toml::node& node, std::string_view origin, std::string_view key)
{
    if (auto s = node.value<std::string>(); s && node.is_string())
        return *s;
    fail(origin, key, "must be a string");
}

std::chrono::milliseconds read_duration(const toml::node& node, std::string_view origin, std::string_view key)
{
    auto text = read_string(node, origin, key);
    auto d = util::parse_duration(text);
    if (!d)
        fail(
            origin,
            key,
            fmt::format("'{}' is not a duration (use e.g. \"90s\", \"15m\", \"2h\", \"7d\")", text)
        );
    return *d;
}

std::int64_t read_int(const toml::node& node, std::string_view origin, std::string_view key)
{
    if (const auto* i = node.as_integer())
        return i->get();
    fail(origin, key, "must be an integer");
}

bool read_bool(const toml::node& node, std::string_view origin, std::string_view key)
{
    if (const auto* b = node.as_boolean())
        return b->get();
    fail(origin, key, "must be true or false");
}

// An integer key's accepted range (inclusive), checked where the value is read.
struct int_range {
    std::int64_t min, max;
};
constexpr int_range chunk_limit_range{1, 10000}; // sync.chunk_limit and every stream's

std::int64_t
read_ranged_int(const toml::node& node, std::string_view origin, std::string_view key, int_range range)
{
    auto v = read_int(node, origin, key);
    if (v < range.min || v > range.max)
        fail(origin, key, fmt::format("{} is out of range {}..{}", v, range.min, range.max));
    return v;
}

using setter = std::function<void(config&, const toml::node&, std::string_view origin, std::string_view key)>;

struct key_def {
    std::string_view table;
    std::string_view key;
    on_reload reload;
    setter set;
    std::function<bool(const config&, const config&)> same; // the key's value is equal in both
};

// `get` is a generic lambda naming the member, so one expression serves reading it and comparing it.
template <class Get>
key_def make_key(std::string_view table, std::string_view key, on_reload r, Get get, setter set)
{
    return {
        table, key, r, std::move(set), [get](const config& a, const config& b) { return get(a) == get(b); }};
}

// A key whose value `read` takes from its node as it is (a string, a duration, a boolean).
template <class Get, class Read>
key_def read_key(std::string_view table, std::string_view key, on_reload r, Get get, Read read)
{
    return make_key(
        table,
        key,
        r,
        get,
        [get, read](config& c, const toml::node& n, std::string_view o, std::string_view k) {
            get(c) = read(n, o, k);
        }
    );
}

template <class Get> key_def string_key(std::string_view table, std::string_view key, on_reload r, Get get)
{
    return read_key(table, key, r, get, read_string);
}

template <class Get> key_def duration_key(std::string_view table, std::string_view key, on_reload r, Get get)
{
    return read_key(table, key, r, get, read_duration);
}

template <class Get> key_def bool_key(std::string_view table, std::string_view key, on_reload r, Get get)
{
    return read_key(table, key, r, get, read_bool);
}

// An integer key with its range.
template <class Get>
key_def int_key(std::string_view table, std::string_view key, on_reload r, Get get, int_range range)
{
    return make_key(
        table,
        key,
        r,
        get,
        [get, range](config& c, const toml::node& n, std::string_view o, std::string_view k) {
            get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(read_ranged_int(n, o, k, range));
        }
    );
}

constexpr auto applies = on_reload::applies;
constexpr auto restart = on_reload::restart;

// The keys of the [ditio], [storage], [sync], [http], [log], [ops] and [push] tables, a function per
// table or two. What objects built once at start-up hold (the database, base URLs, the HTTP client, the
// ops endpoint) needs a restart.
std::vector<key_def> ditio_keys()
{
    return {
        string_key(
            "ditio", "identity_base", restart, [](auto& c) -> auto& { return c.ditio.identity_base; }
        ),
        string_key(
            "ditio", "api_base", restart, [](auto& c) -> auto& { return c.ditio.api_base; }
        ),
        string_key(
            "ditio", "reporting_base", restart, [](auto& c) -> auto& { return c.ditio.reporting_base; }
        ),
        string_key(
            "ditio", "client_id", applies, [](auto& c) -> auto& { return c.ditio.client_id; }
        ),
        string_key(
            "ditio", "client_secret", applies, [](auto& c) -> auto& { return c.ditio.client_secret; }
        ),
        string_key(
            "ditio", "client_secret_file", applies, [](auto& c) -> auto& {
                return c.ditio.client_secret_file;
            }
        ),
        string_key(
            "ditio", "scope", applies, [](auto& c) -> auto& { return c.ditio.scope; }
        ),
        string_key(
            "ditio", "company_id", applies, [](auto& c) -> auto& { return c.ditio.company_id; }
        ),
    };
}

std::vector<key_def> storage_sync_keys()
{
    return {
        make_key(
            "storage",
            "path",
            restart,
            [](auto& c) -> auto& { return c.storage.path; },
            [](config& c, const toml::node& n, std::string_view o, std::string_view k) {
                c.storage.path = read_string(n, o, k);
            }
        ),
        duration_key(
            "storage", "busy_timeout", restart, [](auto& c) -> auto& { return c.storage.busy_timeout; }
        ),
        duration_key(
            "storage", "keep_runs_for", applies, [](auto& c) -> auto& { return c.storage.keep_runs_for; }
        ),
        int_key(
            "storage",
            "keep_runs",
            applies,
            [](auto& c) -> auto& { return c.storage.keep_runs; },
            {1, 10'000'000}
        ),
        duration_key(
            "sync", "interval", applies, [](auto& c) -> auto& { return c.sync.interval; }
        ),
        duration_key(
            "sync", "overlap", applies, [](auto& c) -> auto& { return c.sync.overlap; }
        ),
        int_key(
            "sync",
            "chunk_limit",
            applies,
            [](auto& c) -> auto& { return c.sync.chunk_limit; },
            chunk_limit_range
        ),
        string_key(
            "sync", "full_from", applies, [](auto& c) -> auto& { return c.sync.full_from; }
        ),
        duration_key(
            "sync", "full_ahead", applies, [](auto& c) -> auto& { return c.sync.full_ahead; }
        ),
        make_key(
            "sync",
            "company_id",
            applies,
            [](auto& c) -> auto& { return c.sync.company_id; },
            [](config& c, const toml::node& n, std::string_view o, std::string_view k) {
                c.sync.company_id = read_string(n, o, k);
            }
        ),
        make_key(
            "sync",
            "streams",
            applies,
            [](auto& c) -> auto& { return c.sync.streams; },
            [](config& c, const toml::node& n, std::string_view o, std::string_view k) {
                const auto* arr = n.as_array();
                if (!arr)
                    fail(o, k, "must be an array of stream names");
                c.sync.streams.clear();
                for (const auto& item : *arr)
                    c.sync.streams.push_back(read_string(item, o, k));
            }
        ),
    };
}

std::vector<key_def> http_keys()
{
    return {
        duration_key(
            "http", "timeout", restart, [](auto& c) -> auto& { return c.http.timeout; }
        ),
        string_key(
            "http", "ca_file", restart, [](auto& c) -> auto& { return c.http.ca_file; }
        ),
        string_key(
            "http", "proxy", restart, [](auto& c) -> auto& { return c.http.proxy; }
        ),
        make_key(
            "http",
            "max_body_mb",
            restart,
            [](auto& c) -> auto& { return c.http.max_body_bytes; },
            [](config& c, const toml::node& n, std::string_view o, std::string_view k) {
                c.http.max_body_bytes =
                    static_cast<std::size_t>(read_ranged_int(n, o, k, {1, 4096})) * 1024u * 1024u;
            }
        ),
        int_key(
            "http", "max_retries", restart, [](auto& c) -> auto& { return c.http.max_retries; }, {0, 100}
        ),
        int_key(
            "http",
            "run_retry_budget",
            applies,
            [](auto& c) -> auto& { return c.http.run_retry_budget; },
            {0, 10000}
        ),
        duration_key(
            "http", "retry_initial", restart, [](auto& c) -> auto& { return c.http.retry_initial; }
        ),
        duration_key(
            "http", "retry_max", restart, [](auto& c) -> auto& { return c.http.retry_max; }
        ),
    };
}

std::vector<key_def> log_ops_push_keys()
{
    return {
        string_key(
            "log", "level", applies, [](auto& c) -> auto& { return c.log.level; }
        ),
        make_key(
            "log",
            "format",
            applies,
            [](auto& c) -> auto& { return c.log.format; },
            [](config& c, const toml::node& n, std::string_view o, std::string_view k) {
                auto v = read_string(n, o, k);
                if (v == "json")
                    c.log.format = log_format::json;
                else if (v == "text")
                    c.log.format = log_format::text;
                else
                    fail(o, k, fmt::format("'{}' is not one of json, text", v));
            }
        ),
        string_key(
            "ops", "listen", restart, [](auto& c) -> auto& { return c.ops.listen; }
        ),
        bool_key(
            "ops", "allow_remote", restart, [](auto& c) -> auto& { return c.ops.allow_remote; }
        ),
        duration_key(
            "ops", "stale_after", applies, [](auto& c) -> auto& { return c.ops.stale_after; }
        ),
        bool_key(
            "push", "enabled", restart, [](auto& c) -> auto& { return c.push.enabled; }
        ),
        duration_key(
            "push", "interval", applies, [](auto& c) -> auto& { return c.push.interval; }
        ),
        duration_key(
            "push", "check_every", applies, [](auto& c) -> auto& { return c.push.check_every; }
        ),
        string_key(
            "push", "company_id", applies, [](auto& c) -> auto& { return c.push.company_id; }
        ),
    };
}

const std::vector<key_def>& key_table()
{
    static const std::vector<key_def> keys = [] {
        std::vector<key_def> all;
        for (auto part : {ditio_keys, storage_sync_keys, http_keys, log_ops_push_keys})
            for (auto& k : part())
                all.push_back(std::move(k));
        return all;
    }();
    return keys;
}

// The sections a file may have, in the key table's order, and [streams].
std::vector<std::string_view> section_names()
{
    std::vector<std::string_view> out;
    for (const auto& k : key_table())
        if (std::find(out.begin(), out.end(), k.table) == out.end())
            out.push_back(k.table);
    out.emplace_back("streams");
    return out;
}

std::vector<std::string_view> keys_of(std::string_view table)
{
    std::vector<std::string_view> out;
    for (const auto& k : key_table())
        if (k.table == table)
            out.push_back(k.key);
    return out;
}

// Keys every [streams."<name>"] table may set; anything else is a stream parameter, checked against the
// catalogue by the sync layer because config does not know the streams.
void parse_stream_table(config& c, const std::string& name, const toml::node& node, std::string_view origin)
{
    auto where = fmt::format("streams.\"{}\"", name);
    const auto* table = node.as_table();
    if (!table)
        fail(origin, where, "must be a table");
    auto& s = c.streams[name];
    for (auto&& [key, value] : *table) {
        auto k = std::string(key.str());
        auto full = fmt::format("{}.{}", where, k);
        if (k == "interval")
            s.interval = read_duration(value, origin, full);
        else if (k == "full_ahead")
            s.full_ahead = read_duration(value, origin, full);
        else if (k == "max_window")
            s.max_window = read_duration(value, origin, full);
        else if (k == "max_incremental_age")
            s.max_incremental_age = read_duration(value, origin, full);
        else if (k == "full_from")
            s.full_from = read_string(value, origin, full);
        else if (k == "chunk_limit")
            s.chunk_limit = static_cast<int>(read_ranged_int(value, origin, full, chunk_limit_range));
        else if (const auto* b = value.as_boolean()) {
            s.params[k] = b->get();
        } else if (value.is_string()) {
            s.params[k] = read_string(value, origin, full);
        } else if (const auto* arr = value.as_array()) {
            std::vector<std::string> items;
            for (const auto& item : *arr)
                items.push_back(read_string(item, origin, full));
            s.params[k] = std::move(items);
        } else {
            fail(origin, full, "must be a boolean, a string or an array of strings");
        }
    }
}

// ops.listen is "host:port" with an IP literal or localhost (nothing to resolve at start-up, and the
// loopback check below cannot be fooled by DNS), a fixed port (a scraper must know it), and a loopback host
// unless ops.allow_remote.
void check_ops(const ops_section& ops)
{
    if (!ops.listen.empty()) {
        auto address = parse_listen_address(ops.listen);
        if (!address || address->port == 0)
            throw config_error(fmt::format(
                "ops.listen: '{}' is not host:port with an IP address or localhost (e.g. \"127.0.0.1:9464\", "
                "\"[::1]:9464\")",
                ops.listen
            ));
        if (!ops.allow_remote && !util::is_loopback_host(address->host))
            throw config_error(fmt::format(
                "ops.listen: {} is not a loopback address; the endpoint has no authentication, so serving it "
                "beyond this host needs ops.allow_remote = true",
                ops.listen
            ));
    }
}

// A proxy is reached in plain HTTP (the CONNECT tunnel carries the TLS), without user info.
bool is_http_proxy(const std::string& value)
{
    auto url = util::split_url(value);
    return url && url->scheme == "http";
}

void check_date(std::string_view key, const std::string& value)
{
    if (!util::parse_iso8601(value) || value.size() != 10)
        throw config_error(fmt::format("{}: '{}' is not a date (YYYY-MM-DD)", key, value));
}

void check_base_url(std::string_view key, const std::string& value)
{
    auto url = util::split_url(value);
    if (!url)
        throw config_error(fmt::format("{}: '{}' is not an absolute https:// URL", key, value));
    if (url->scheme == "http" && !util::is_loopback_host(url->host))
        throw config_error(
            fmt::format("{}: plain http:// is only allowed for loopback hosts; use https://", key)
        );
    if (url->target.find('?') != std::string::npos)
        throw config_error(fmt::format("{}: must not have a query", key));
}

// One line of at most max_secret_bytes from `fd`, without its line end; reads one byte more than allowed,
// since a file may grow between fstat and read.
std::string read_secret_bytes(int fd, std::string_view source, std::string_view what)
{
    std::string s(max_secret_bytes + 1, '\0');
    std::size_t got = 0;
    while (got < s.size()) {
        auto n = ::read(fd, s.data() + got, s.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw config_error(fmt::format("{}: cannot read {} ({})", source, what, std::strerror(errno)));
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    if (got > max_secret_bytes)
        throw config_error(fmt::format("{}: {} is larger than {} bytes", source, what, max_secret_bytes));
    s.resize(got);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    if (s.empty())
        throw config_error(fmt::format("{}: {} is empty", source, what));
    return s;
}

std::string
read_secret_file(const std::filesystem::path& p, std::string_view source, std::vector<std::string>* warnings)
{
    // The path is not echoed: someone may have pasted the secret itself into client_secret_file.
    // O_NONBLOCK: a FIFO must not hang the start (or a reload) until someone writes to it.
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        throw config_error(fmt::format("{}: cannot read the file it names ({})", source, std::strerror(errno))
        );
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw config_error(fmt::format("{}: the file it names is not a regular file", source));
    if (static_cast<std::uint64_t>(st.st_size) > max_secret_bytes)
        throw config_error(fmt::format(
            "{}: the file it names is {} bytes; a client secret file holds one line of at most {} bytes",
            source,
            st.st_size,
            max_secret_bytes
        ));
    auto secret = read_secret_bytes(fd, source, "the file it names");
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0 && warnings)
        warnings->push_back(fmt::format(
            "{}: the file it names is readable by {} (mode {:04o}): make it readable by its owner only "
            "(chmod 600), or pass the secret as a systemd credential",
            source,
            (st.st_mode & S_IROTH) != 0 ? "every user of this machine" : "its group",
            st.st_mode & 07777
        ));
    return secret;
}

// Refuses what would make the recursive TOML parser dig deep, before it sees the text: [ and { nested
// beyond max_nesting, and dotted keys of more than max_key_parts parts. Strings and comments are skipped.
// Dots are counted between two structural characters (= , [ ] { } or a line end), so a key's dots are
// counted together and a value's float or time, alone, has one.
void check_shape(std::string_view text, std::string_view origin)
{
    int depth = 0;
    int dots = 0;
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '"' || c == '\'') {
            bool multi = text.substr(i, 3) == std::string(3, c);
            std::string_view close = multi ? text.substr(i, 3) : text.substr(i, 1);
            i += close.size();
            for (; i < text.size(); ++i) {
                if (text[i] == '\n')
                    ++line;
                if (c == '"' && text[i] == '\\') {
                    ++i;
                    if (i < text.size() && text[i] == '\n')
                        ++line;
                    continue;
                }
                if (text.substr(i, close.size()) == close) {
                    // A multi-line string may end with up to two more quotes inside it: """a""""".
                    while (multi && i + 3 < text.size() && text[i + 3] == c)
                        ++i;
                    i += close.size() - 1;
                    break;
                }
            }
            continue;
        }
        if (c == '#') {
            while (i + 1 < text.size() && text[i + 1] != '\n')
                ++i;
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > max_nesting)
                fail(
                    origin,
                    fmt::format("line {}", line),
                    fmt::format("nested deeper than {} levels", max_nesting)
                );
        } else if (c == ']' || c == '}') {
            depth = std::max(depth - 1, 0);
        } else if (c == '.') {
            if (++dots >= max_key_parts)
                fail(
                    origin,
                    fmt::format("line {}", line),
                    fmt::format("a dotted key of more than {} parts", max_key_parts)
                );
            continue;
        }
        if (c == '\n')
            ++line;
        if (c == '=' || c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || c == '\n')
            dots = 0;
    }
}

using namespace std::chrono_literals;
constexpr std::chrono::hours one_day{24};

constexpr std::array<duration_range, 15> duration_table{{
    {"storage.busy_timeout", 0ms, 10min},
    {"storage.keep_runs_for", one_day, 3650 * one_day},
    {"sync.interval", 1s, 30 * one_day},
    // Ditio's Date header has whole seconds and is written after its snapshot: a smaller overlap can miss
    // writes committed at the edge of a run.
    {"sync.overlap", 1min, 30 * one_day},
    {"sync.full_ahead", 0ms, 3660 * one_day},
    {"streams.*.interval", 1s, 30 * one_day},
    {"streams.*.full_ahead", 0ms, 3660 * one_day},
    {"streams.*.max_window", one_day, 3660 * one_day},
    {"streams.*.max_incremental_age", 1h, 3660 * one_day},
    {"http.timeout", 1s, 1h},
    {"http.retry_initial", 1ms, 1h},
    {"http.retry_max", 1ms, 1h},
    {"ops.stale_after", 1min, 365 * one_day},
    {"push.interval", 1s, one_day},
    {"push.check_every", 100ms, 10min},
}};

// `key` names the range; `shown` is the key as the message names it (a stream's own, say).
void check_range(std::string_view key, std::chrono::milliseconds value, std::string_view shown = {})
{
    auto it = std::find_if(duration_table.begin(), duration_table.end(), [&](const duration_range& r) {
        return r.key == key;
    });
    if (it == duration_table.end())
        throw std::logic_error(fmt::format("no duration range for {}", key));
    if (value < it->min || value > it->max)
        throw config_error(fmt::format(
            "{}: must be between {} and {}",
            shown.empty() ? key : shown,
            util::format_duration(it->min),
            util::format_duration(it->max)
        ));
}

} // namespace

std::string company_to_write(const config& c)
{
    return c.push.company_id.empty() ? c.ditio.company_id : c.push.company_id;
}

std::string company_filter(const config& c)
{
    return c.sync.company_id.value_or(c.ditio.company_id);
}

env_lookup process_environment()
{
    return [](std::string_view name) -> std::optional<std::string> {
        if (const char* v = std::getenv(std::string(name).c_str()); v && *v)
            return std::string(v);
        return std::nullopt;
    };
}

std::optional<listen_address> parse_listen_address(std::string_view text)
{
    // "[v6]:port" or "v4-or-name:port"; the host must be an IP literal or localhost.
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return std::nullopt;
    auto host = text.substr(0, colon);
    auto port = text.substr(colon + 1);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']')
            return std::nullopt;
        host = host.substr(1, host.size() - 2);
        if (host.find(':') == std::string_view::npos)
            return std::nullopt; // brackets are for IPv6 only
    } else if (host.find(':') != std::string_view::npos) {
        return std::nullopt; // an IPv6 address needs its brackets
    }
    std::string lower(host);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
        return std::tolower(ch);
    });
    if (lower != "localhost" && !util::is_ip_literal(lower))
        return std::nullopt;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch); }))
        return std::nullopt;
    auto number = std::stoi(std::string(port));
    if (number > 65535)
        return std::nullopt;
    return listen_address{lower, static_cast<std::uint16_t>(number)};
}

void check_proxy_environment(const config& c)
{
    if (!c.http.proxy_source.empty() && !is_http_proxy(c.http.proxy))
        throw config_error(
            fmt::format("{}: must be http://host:port (user info is not supported)", c.http.proxy_source)
        );
}

std::vector<std::string> keys_needing_restart(const config& running, const config& fresh)
{
    std::vector<std::string> out;
    for (const auto& k : key_table())
        if (k.reload == on_reload::restart && !k.same(running, fresh))
            out.push_back(fmt::format("{}.{}", k.table, k.key));
    return out;
}

std::span<const duration_range> duration_ranges()
{
    return duration_table;
}

config parse(std::string_view toml_text, std::string_view origin)
{
    if (toml_text.size() > max_file_bytes)
        throw config_error(fmt::format(
            "{}: {} bytes; a configuration file holds at most {}", origin, toml_text.size(), max_file_bytes
        ));
    check_shape(toml_text, origin);
    toml::table root;
    try {
        root = toml::parse(toml_text, origin);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        throw config_error(fmt::format("{}:{}:{}: {}", origin, where.line, where.column, e.description()));
    }
    config c;
    for (auto&& [table_name, table_node] : root) {
        const auto* table = table_node.as_table();
        auto tname = table_name.str();
        if (tname == "streams") {
            if (!table)
                fail(origin, tname, "must be a table of [streams.\"<name>\"] tables");
            for (auto&& [stream_name, stream_node] : *table)
                parse_stream_table(c, std::string(stream_name.str()), stream_node, origin);
            continue;
        }
        bool known_table = std::any_of(key_table().begin(), key_table().end(), [&](const key_def& k) {
            return k.table == tname;
        });
        if (!known_table)
            fail(origin, tname, fmt::format("unknown section ({})", util::suggest(tname, section_names())));
        if (!table)
            fail(origin, tname, "must be a table");
        for (auto&& [key, node] : *table) {
            // A named copy: clang before 16 cannot capture a structured binding in a lambda.
            auto key_name = key.str();
            auto full = fmt::format("{}.{}", tname, key_name);
            auto it = std::find_if(key_table().begin(), key_table().end(), [&](const key_def& k) {
                return k.table == tname && k.key == key_name;
            });
            if (it == key_table().end())
                fail(origin, full, fmt::format("unknown key ({})", util::suggest(key_name, keys_of(tname))));
            it->set(c, node, origin, full);
        }
    }
    return c;
}

config load(const std::filesystem::path& file, bool required, const env_lookup& env)
{
    config c;
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
        if (!std::filesystem::is_regular_file(file, ec))
            throw config_error(fmt::format("{}: not a regular file", file.string()));
        std::ifstream in(file, std::ios::binary);
        if (!in)
            throw config_error(fmt::format("{}: cannot read the configuration file", file.string()));
        // One byte more than parse() takes, so a larger file is refused without reading all of it.
        std::string text(max_file_bytes + 1, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        c = parse(text, file.string());
    } else if (required) {
        throw config_error(fmt::format("{}: configuration file not found", file.string()));
    }
    if (auto v = env("DITIO_IDENTITY_BASE"))
        c.ditio.identity_base = *v;
    if (auto v = env("DITIO_API_BASE"))
        c.ditio.api_base = *v;
    if (auto v = env("DITIO_REPORTING_BASE"))
        c.ditio.reporting_base = *v;
    if (auto v = env("DITIO_CLIENT_ID"))
        c.ditio.client_id = *v;
    if (auto v = env("DITIO_SYNC_DB"))
        c.storage.path = *v;
    // The proxy the environment names, unless the file names one; NO_PROXY in either case. Checked by
    // check_proxy_environment, only where a command talks to Ditio.
    if (c.http.proxy.empty()) {
        for (const char* name : {"HTTPS_PROXY", "https_proxy"}) {
            if (auto p = env(name)) {
                c.http.proxy = *p;
                c.http.proxy_source = name;
                break;
            }
        }
    }
    if (auto v = env("NO_PROXY"))
        c.http.no_proxy = *v;
    else if (auto w = env("no_proxy"))
        c.http.no_proxy = *w;
    return c;
}

void validate(const config& c, std::span<const std::string_view> known_streams, need_credentials creds)
{
    check_base_url("ditio.identity_base", c.ditio.identity_base);
    check_base_url("ditio.api_base", c.ditio.api_base);
    check_base_url("ditio.reporting_base", c.ditio.reporting_base);
    if (creds == need_credentials::yes && c.ditio.client_id.empty())
        throw config_error("ditio.client_id: is required (or set DITIO_CLIENT_ID)");
    // Unset follows the features; set, it is asked for as written, whichever scopes it names.
    if (!c.ditio.scope.empty() && c.ditio.scope.find_first_not_of(' ') == std::string::npos)
        throw config_error("ditio.scope: must name at least one scope (or leave it unset: the scopes the "
                           "enabled features need)");
    if (c.storage.path.empty())
        throw config_error("storage.path: must not be empty (or set DITIO_SYNC_DB)");
    check_range("storage.busy_timeout", c.storage.busy_timeout);
    check_range("storage.keep_runs_for", c.storage.keep_runs_for);
    check_range("sync.interval", c.sync.interval);
    check_range("sync.overlap", c.sync.overlap);
    check_range("sync.full_ahead", c.sync.full_ahead);
    check_date("sync.full_from", c.sync.full_from);
    if (c.sync.streams.empty())
        throw config_error("sync.streams: must name at least one stream");
    for (const auto& s : c.sync.streams) {
        if (std::find(known_streams.begin(), known_streams.end(), s) == known_streams.end())
            throw config_error(
                fmt::format("sync.streams: unknown stream '{}' ({})", s, util::suggest(s, known_streams))
            );
        if (std::count(c.sync.streams.begin(), c.sync.streams.end(), s) > 1)
            throw config_error(fmt::format("sync.streams: '{}' is listed twice", s));
    }
    for (const auto& [name, s] : c.streams) {
        auto where = fmt::format("streams.\"{}\"", name);
        if (std::find(known_streams.begin(), known_streams.end(), name) == known_streams.end())
            throw config_error(
                fmt::format("{}: unknown stream ({})", where, util::suggest(name, known_streams))
            );
        if (s.interval)
            check_range("streams.*.interval", *s.interval, where + ".interval");
        if (s.full_ahead)
            check_range("streams.*.full_ahead", *s.full_ahead, where + ".full_ahead");
        if (s.full_from)
            check_date(where + ".full_from", *s.full_from);
        if (s.max_window)
            check_range("streams.*.max_window", *s.max_window, where + ".max_window");
        if (s.max_incremental_age)
            check_range(
                "streams.*.max_incremental_age", *s.max_incremental_age, where + ".max_incremental_age"
            );
    }
    check_range("http.timeout", c.http.timeout);
    check_range("http.retry_initial", c.http.retry_initial);
    check_range("http.retry_max", c.http.retry_max);
    if (c.http.retry_initial > c.http.retry_max)
        throw config_error("http.retry_initial: must not exceed http.retry_max");
    if (!c.http.proxy.empty() && c.http.proxy_source.empty() && !is_http_proxy(c.http.proxy))
        throw config_error("http.proxy: must be http://host:port");
    check_ops(c.ops);
    check_range("ops.stale_after", c.ops.stale_after);
    check_range("push.interval", c.push.interval);
    check_range("push.check_every", c.push.check_every);
    static constexpr std::string_view levels[] = {
        "trace", "debug", "info", "warning", "warn", "error", "critical", "off"};
    if (std::find(std::begin(levels), std::end(levels), c.log.level) == std::end(levels))
        throw config_error(fmt::format(
            "log.level: '{}' is not one of trace, debug, info, warning, error, critical, off", c.log.level
        ));
}

std::string read_secret_stdin()
{
    constexpr std::string_view source = "--secret-file -";
    if (::isatty(STDIN_FILENO) == 1)
        throw config_error(fmt::format(
            "{}: standard input is a terminal; redirect the secret's file to it (< "
            "/etc/ditio-sync/client_secret)",
            source
        ));
    return read_secret_bytes(STDIN_FILENO, source, "standard input");
}

std::string resolve_client_secret(
    const config& c, const env_lookup& env, std::vector<std::string>* warnings, const secret_sources& extra
)
{
    if (extra.given)
        return *extra.given;
    if (!extra.file.empty())
        return read_secret_file(extra.file, "--secret-file", warnings);
    if (auto v = env("DITIO_CLIENT_SECRET"))
        return *v;
    if (auto dir = env("CREDENTIALS_DIRECTORY")) {
        std::filesystem::path p = std::filesystem::path(*dir) / "client_secret";
        std::error_code ec;
        if (std::filesystem::exists(p, ec))
            return read_secret_file(p, "$CREDENTIALS_DIRECTORY/client_secret", warnings);
    }
    if (!c.ditio.client_secret_file.empty())
        return read_secret_file(c.ditio.client_secret_file, "ditio.client_secret_file", warnings);
    if (!c.ditio.client_secret.empty())
        return c.ditio.client_secret;
    std::error_code ec;
    if (!extra.fallback.empty() && std::filesystem::exists(extra.fallback, ec)) {
        if (::access(extra.fallback.c_str(), R_OK) != 0)
            throw config_error(fmt::format(
                "ditio.client_secret_file: no client secret configured, and {} (the service's credential) is "
                "not readable by this user: run as root, or give it on standard input "
                "(--secret-file - < {}), or run under systemd-run with LoadCredential=",
                extra.fallback.string(),
                extra.fallback.string()
            ));
        return read_secret_file(extra.fallback, extra.fallback.string(), warnings);
    }
    throw config_error("ditio.client_secret_file: no client secret configured (set ditio.client_secret_file, "
                       "$DITIO_CLIENT_SECRET, a systemd credential named client_secret, or --secret-file)");
}

} // namespace ditio_sync::config

#include <ditio_sync/log/log.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <stdexcept>

namespace ditio_sync::log {
namespace {

// A log field's string values are cut beyond this (an error excerpt is already cut shorter where it is made).
constexpr std::size_t max_field_bytes = 4096;

std::atomic<log::format> current_format{log::format::json};
bool current_journal_priority = false;
std::mutex setup_mutex;
spdlog::sink_ptr shared_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

std::string pattern_for(log::format f)
{
    // The message part already holds "event" and the fields; the pattern adds time, level and logger.
    if (f == log::format::json)
        return R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n",%v})";
    return "%Y-%m-%dT%H:%M:%S.%eZ %-7l %-5n %v";
}

// %* in a pattern: the line's "<N>" syslog priority prefix for journald.
class priority_flag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override
    {
        auto text = fmt::format("<{}>", journal_priority_of(msg.level));
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override
    {
        return std::make_unique<priority_flag>();
    }
};

spdlog::sink_ptr make_sink(log::format f, bool journal_priority)
{
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<priority_flag>('*').set_pattern((journal_priority ? "%*" : "") + pattern_for(f));
    sink->set_formatter(std::move(formatter));
    return sink;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// A string value in the text format: as it is when that is unambiguous, else quoted; either way with its
// control characters written out (util::terminal_safe), as the text format is read on a terminal.
void append_text_value(std::string& out, const boost::json::value& v)
{
    if (!v.is_string()) {
        out += boost::json::serialize(v);
        return;
    }
    auto s = std::string_view(v.get_string());
    auto safe = util::terminal_safe(s);
    bool plain = !s.empty() && safe == s &&
                 std::none_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '"' || c == '='; });
    if (plain) {
        out += safe;
        return;
    }
    out += '"';
    for (char c : safe) {
        if (c == '"')
            out += '\\';
        out += c;
    }
    out += '"';
}

// Every string in a field value, however nested, redacted and bounded.
void make_safe(boost::json::value& v)
{
    if (v.is_string()) {
        auto s = std::string_view(v.get_string());
        v = util::safe_excerpt(s, max_field_bytes);
    } else if (v.is_array()) {
        for (auto& item : v.get_array())
            make_safe(item);
    } else if (v.is_object()) {
        for (auto& [k, item] : v.get_object())
            make_safe(item);
    }
}

} // namespace

bool is_secret_field(std::string_view name)
{
    auto n = lower(name);
    return n.find("authorization") != std::string::npos || n.find("secret") != std::string::npos ||
           n.find("password") != std::string::npos || n == "bearer" ||
           // OAuth tokens of any kind; a continuation token is a page cursor, not a credential.
           (n.find("token") != std::string::npos && n.find("continuation") == std::string::npos);
}

std::string format_fields(log::format format, std::string_view name, const boost::json::object& fields)
{
    std::string out;
    if (format == log::format::json) {
        out += "\"event\":";
        out += boost::json::serialize(boost::json::string_view(name.data(), name.size()));
        for (const auto& [k, v] : fields) {
            out += ',';
            out += boost::json::serialize(boost::json::string_view(k));
            out += ':';
            out += boost::json::serialize(v);
        }
    } else {
        out.append(name.data(), name.size());
        for (const auto& [k, v] : fields) {
            out += ' ';
            out.append(k.data(), k.size());
            out += '=';
            append_text_value(out, v);
        }
    }
    return out;
}

int journal_priority_of(spdlog::level::level_enum level)
{
    switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
        return 7;
    case spdlog::level::info:
        return 6;
    case spdlog::level::warn:
        return 4;
    case spdlog::level::err:
        return 3;
    case spdlog::level::critical:
        return 2;
    default:
        return 6;
    }
}

void setup(const std::string& level, log::format format, priority_prefix prefix)
{
    bool journal_priority = prefix == priority_prefix::journal;
    std::lock_guard lock(setup_mutex);
    auto lvl = spdlog::level::from_str(level == "warning" ? "warn" : level);
    if (lvl == spdlog::level::off && level != "off")
        throw std::invalid_argument("log.level: unknown level '" + level + "'");
    current_level = lvl;
    current_format = format;
    current_journal_priority = journal_priority;
    shared_sink = make_sink(format, journal_priority);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
        l->sinks() = {shared_sink};
        l->set_level(lvl);
    });
    // SPDLOG_LEVEL=info,http=debug refines levels per logger.
    spdlog::cfg::load_env_levels();
}

logger_ptr get(std::string_view name)
{
    std::lock_guard lock(setup_mutex);
    std::string n(name);
    if (auto existing = spdlog::get(n))
        return existing;
    if (!shared_sink)
        shared_sink = make_sink(current_format, current_journal_priority);
    auto lg = std::make_shared<spdlog::logger>(n, shared_sink);
    lg->set_level(current_level);
    lg->flush_on(spdlog::level::trace);
    spdlog::register_logger(lg);
    return lg;
}

void event(const logger_ptr& lg, spdlog::level::level_enum level, event_name name, boost::json::object fields)
{
    if (!lg || !lg->should_log(level))
        return;
    for (auto& [k, v] : fields) {
        if (is_secret_field(k))
            v = util::redacted_mark;
        else
            make_safe(v);
    }
    lg->log(level, "{}", format_fields(current_format, name.str(), fields));
}

} // namespace ditio_sync::log

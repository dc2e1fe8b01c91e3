// Structured logging: every line is one event with a stable name and typed fields, written as a JSON
// object per line or as readable text, from the same call site. Fields named like secrets are redacted;
// every other string value passes the process's redactor (util/redact.hpp) and is cut at 4 KB.
#pragma once

#include <ditio_sync/log/events.hpp>
#include <ditio_sync/log/format.hpp>

#include <boost/json/object.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <string_view>

namespace ditio_sync::log {

using logger_ptr = std::shared_ptr<spdlog::logger>;

// Whether each line starts with its level's syslog priority ("<4>" for a warning), which journald turns
// into the entry's priority and strips: the JSON stays as it is.
enum class priority_prefix { none, journal };

// Sets up the sink (stderr) and format for every logger made by get(); call from app/ (again on a
// configuration reload). Throws std::invalid_argument for an unknown level (config::validate refuses one
// first).
void setup(const std::string& level, log::format format, priority_prefix prefix = priority_prefix::none);

// The syslog priority journald should give a level: debug 7, info 6, warning 4, error 3, critical 2.
int journal_priority_of(spdlog::level::level_enum level);

// The named logger ("http", "auth", "sync", "store", "app"), created on first use.
logger_ptr get(std::string_view name);

// Writes one event. Values of fields whose names look secret (authorization, secret, password, any
// *token* except continuation tokens) are replaced by "[redacted]"; in the others, whatever the redactor
// knows or recognises as a credential is.
void event(
    const logger_ptr& lg, spdlog::level::level_enum level, event_name name, boost::json::object fields = {}
);

inline void info(const logger_ptr& lg, event_name name, boost::json::object fields = {})
{
    event(lg, spdlog::level::info, name, std::move(fields));
}
inline void warn(const logger_ptr& lg, event_name name, boost::json::object fields = {})
{
    event(lg, spdlog::level::warn, name, std::move(fields));
}
inline void error(const logger_ptr& lg, event_name name, boost::json::object fields = {})
{
    event(lg, spdlog::level::err, name, std::move(fields));
}
inline void debug(const logger_ptr& lg, event_name name, boost::json::object fields = {})
{
    event(lg, spdlog::level::debug, name, std::move(fields));
}

// True when a field of this name must never be logged in clear.
bool is_secret_field(std::string_view name);

// Formats one event's message part (everything but timestamp, level and logger); exposed for tests.
std::string format_fields(log::format format, std::string_view name, const boost::json::object& fields);

} // namespace ditio_sync::log

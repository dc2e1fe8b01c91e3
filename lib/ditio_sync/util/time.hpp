// Timestamps as Ditio and HTTP write them: ISO-8601 UTC strings and IMF-fixdate (the Date header).
// Pure functions: nothing here reads a clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::util {

using sys_micros = std::chrono::sys_time<std::chrono::microseconds>;

// Parses "2026-10-01", "2026-10-01T06:02:11Z", "...11.1234567Z", "...11+02:00" or "...11" (read as UTC).
// Fractions beyond microseconds are truncated. Returns nullopt for anything else.
std::optional<sys_micros> parse_iso8601(std::string_view text);

// "2026-10-01T06:02:11.123Z": the form ditio-sync sends and stores.
std::string format_iso8601_ms(sys_micros t);

// "2026-10-01T06:02:11Z"
std::string format_iso8601_s(sys_micros t);

// A fixed-width, lexically ordered key ("2026-10-01T06:02:11.123456Z") for comparing change times that
// Ditio may send with different fraction lengths. Unparseable input sorts first ("").
std::string change_key(std::string_view iso_text);

// Parses an HTTP date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT").
std::optional<sys_micros> parse_http_date(std::string_view text);

// Formats an IMF-fixdate.
std::string format_http_date(sys_micros t);

} // namespace ditio_sync::util

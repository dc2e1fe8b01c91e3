// Durations as the configuration writes them: "250ms", "90s", "15m", "2h", "7d".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::util {

// Parses one non-negative integer followed by a unit (ms, s, m, h, d). Returns nullopt for anything else.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact form, e.g. 900000ms -> "15m".
std::string format_duration(std::chrono::milliseconds d);

} // namespace ditio_sync::util

#include <ditio_sync/util/duration.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <limits>

namespace ditio_sync::util {
namespace {

struct unit {
    std::string_view suffix;
    std::int64_t ms;
};

// Longest suffix first so "ms" is not read as "m".
constexpr std::array<unit, 5> units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text)
{
    // from_chars takes a leading minus ("-0s"); a duration has none.
    if (text.empty() || text.front() == '-')
        return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || value < 0)
        return std::nullopt;
    std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
    for (const auto& u : units) {
        if (suffix == u.suffix) {
            if (value > std::numeric_limits<std::int64_t>::max() / u.ms)
                return std::nullopt;
            return std::chrono::milliseconds{value * u.ms};
        }
    }
    return std::nullopt;
}

std::string format_duration(std::chrono::milliseconds d)
{
    auto ms = d.count();
    for (auto it = units.rbegin(); it != units.rend(); ++it)
        if (ms != 0 && ms % it->ms == 0)
            return fmt::format("{}{}", ms / it->ms, it->suffix);
    return fmt::format("{}ms", ms);
}

} // namespace ditio_sync::util

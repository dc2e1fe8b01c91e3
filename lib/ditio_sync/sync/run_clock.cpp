#include <ditio_sync/sync/run_clock.hpp>

#include <algorithm>

namespace ditio_sync::sync {

util::sys_micros run_start(std::optional<util::sys_micros> server_date, util::sys_micros local_start)
{
    if (!server_date || *server_date < earliest_plausible)
        return local_start;
    return std::min(*server_date, local_start);
}

std::optional<std::chrono::microseconds> clock_skew(util::sys_micros server_date, util::sys_micros local_now)
{
    auto skew = server_date - local_now;
    if (skew > clock_tolerance || -skew > clock_tolerance)
        return skew;
    return std::nullopt;
}

std::optional<std::string_view> implausible_watermark(util::sys_micros watermark, util::sys_micros local_now)
{
    if (watermark > local_now + clock_tolerance)
        return "in the future";
    if (watermark < earliest_plausible)
        return "before 2000";
    return std::nullopt;
}

} // namespace ditio_sync::sync

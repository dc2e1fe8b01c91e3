#include <ditio_sync/sync/run_clock.hpp>

#include <algorithm>

namespace ditio_sync::sync {

util::sys_micros run_start(std::optional<util::sys_micros> server_date, util::sys_micros local_start)
{
    return server_date ? std::min(*server_date, local_start) : local_start;
}

std::optional<std::chrono::microseconds> clock_skew(util::sys_micros server_date, util::sys_micros local_now)
{
    auto skew = server_date - local_now;
    if (skew > clock_tolerance || -skew > clock_tolerance)
        return skew;
    return std::nullopt;
}

bool watermark_in_future(util::sys_micros watermark, util::sys_micros local_now)
{
    return watermark > local_now + clock_tolerance;
}

} // namespace ditio_sync::sync

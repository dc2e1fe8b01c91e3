// Which clock a run's watermark and full-sync window come from. Ditio stamps modifiedDateTime by its own
// clock and the local clock may be wrong; either may be far off (a Date header of 2999, a machine three
// years behind). The rule: a run's start is the earlier of Ditio's Date (of the run's first answer) and the
// local clock at the run's start, and the full window ends at that local start plus full_ahead. So the
// watermark is never later than either clock (a wrong clock can make a run read more, never less), and
// never later than the window's end minus full_ahead (no record created before the watermark can be dated
// past the window). A Date before 2000 (year 1, 1970) is no clock at all and is not used. Pure functions.
#pragma once

#include <ditio_sync/util/time.hpp>

#include <chrono>
#include <optional>
#include <string_view>

namespace ditio_sync::sync {

// Beyond this the two clocks are said to disagree (sync.clock_skew), and a stored watermark this far past
// the local clock is repaired.
inline constexpr std::chrono::minutes clock_tolerance{5};

// Nothing Ditio stamps is older than this (2000-01-01T00:00:00Z).
inline constexpr util::sys_micros earliest_plausible{std::chrono::microseconds{946'684'800'000'000}};

// The run's start, the watermark a complete run saves: min(server_date, local_start), without a
// server_date before earliest_plausible.
util::sys_micros run_start(std::optional<util::sys_micros> server_date, util::sys_micros local_start);

// How far Ditio's clock is ahead of the local one (negative: behind) when that is more than the tolerance.
std::optional<std::chrono::microseconds> clock_skew(util::sys_micros server_date, util::sys_micros local_now);

// Why a stored watermark cannot be right, or nullopt: more than the tolerance past the local clock (no run
// of this version saves one: an older version trusted a Date of 2999, or the local clock was set back
// since), or before earliest_plausible.
std::optional<std::string_view> implausible_watermark(util::sys_micros watermark, util::sys_micros local_now);

} // namespace ditio_sync::sync

// Which clock a run's watermark and full-sync window come from. Ditio stamps modifiedDateTime by its own
// clock and the local clock may be wrong; either may be far off (a Date header of 2999, a machine three
// years behind). The rule: a run's start is the earlier of Ditio's Date (of the run's first answer) and the
// local clock at the run's start, and the full window ends at that local start plus full_ahead. So the
// watermark is never later than either clock (a wrong clock can make a run read more, never less), and
// never later than the window's end minus full_ahead (no record created before the watermark can be dated
// past the window). Pure functions.
#pragma once

#include <ditio_sync/util/time.hpp>

#include <chrono>
#include <optional>

namespace ditio_sync::sync {

// Beyond this the two clocks are said to disagree (sync.clock_skew), and a stored watermark this far past
// the local clock is repaired.
inline constexpr std::chrono::minutes clock_tolerance{5};

// The run's start, the watermark a complete run saves: min(server_date, local_start).
util::sys_micros run_start(std::optional<util::sys_micros> server_date, util::sys_micros local_start);

// How far Ditio's clock is ahead of the local one (negative: behind) when that is more than the tolerance.
std::optional<std::chrono::microseconds> clock_skew(util::sys_micros server_date, util::sys_micros local_now);

// True when a stored watermark lies more than the tolerance past the local clock: no run of this version
// saves one (from an older version, trusting a Date of 2999, or a local clock set back since).
bool watermark_in_future(util::sys_micros watermark, util::sys_micros local_now);

} // namespace ditio_sync::sync

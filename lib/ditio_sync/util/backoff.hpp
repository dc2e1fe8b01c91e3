// Exponential backoff with full jitter, the one retry-delay policy of the project.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace ditio_sync::util {

class backoff {
public:
    backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed);

    // The delay before retry number `attempt` (0-based): uniform in [0, min(cap, initial * 2^attempt)].
    std::chrono::milliseconds delay(unsigned attempt);

    // Like delay(), but never less than half the ceiling ("equal jitter"): for waits that must bound the
    // request rate, such as a failed stream's next run.
    std::chrono::milliseconds delay_at_least_half(unsigned attempt);

    // `base` shifted by a uniform random amount in [-fraction, +fraction] of itself (scheduler jitter).
    std::chrono::milliseconds jittered(std::chrono::milliseconds base, double fraction);

private:
    std::int64_t ceiling(unsigned attempt) const;

    std::chrono::milliseconds initial_;
    std::chrono::milliseconds cap_;
    std::mt19937_64 rng_;
};

} // namespace ditio_sync::util

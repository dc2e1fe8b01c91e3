#include <ditio_sync/util/backoff.hpp>

#include <algorithm>

namespace ditio_sync::util {

backoff::backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed)
    : initial_(initial), cap_(cap), rng_(seed)
{
}

std::int64_t backoff::ceiling(unsigned attempt) const
{
    auto c = initial_.count();
    for (unsigned i = 0; i < attempt && c < cap_.count(); ++i)
        c *= 2;
    return std::max<std::int64_t>(std::min(c, cap_.count()), 0);
}

std::chrono::milliseconds backoff::delay(unsigned attempt)
{
    std::uniform_int_distribution<std::int64_t> pick(0, ceiling(attempt));
    return std::chrono::milliseconds{pick(rng_)};
}

std::chrono::milliseconds backoff::delay_at_least_half(unsigned attempt)
{
    auto c = ceiling(attempt);
    std::uniform_int_distribution<std::int64_t> pick(c / 2, c);
    return std::chrono::milliseconds{pick(rng_)};
}

std::chrono::milliseconds backoff::jittered(std::chrono::milliseconds base, double fraction)
{
    std::uniform_real_distribution<double> pick(-fraction, fraction);
    auto shifted = static_cast<double>(base.count()) * (1.0 + pick(rng_));
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::max(shifted, 0.0))};
}

} // namespace ditio_sync::util

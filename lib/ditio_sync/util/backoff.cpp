#include <ditio_sync/util/backoff.hpp>

#include <algorithm>

namespace ditio_sync::util {

backoff::backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed)
    : initial_(initial), cap_(cap), rng_(seed)
{
}

std::chrono::milliseconds backoff::delay(unsigned attempt)
{
    auto ceiling = initial_.count();
    for (unsigned i = 0; i < attempt && ceiling < cap_.count(); ++i)
        ceiling *= 2;
    ceiling = std::min(ceiling, cap_.count());
    std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
    return std::chrono::milliseconds{pick(rng_)};
}

std::chrono::milliseconds backoff::jittered(std::chrono::milliseconds base, double fraction)
{
    std::uniform_real_distribution<double> pick(-fraction, fraction);
    auto shifted = static_cast<double>(base.count()) * (1.0 + pick(rng_));
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::max(shifted, 0.0))};
}

} // namespace ditio_sync::util

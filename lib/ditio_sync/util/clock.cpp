#include <ditio_sync/util/clock.hpp>

namespace ditio_sync::util {

std::chrono::system_clock::time_point real_clock::system_now() const
{
    return std::chrono::system_clock::now();
}

std::chrono::steady_clock::time_point real_clock::steady_now() const
{
    return std::chrono::steady_clock::now();
}

} // namespace ditio_sync::util

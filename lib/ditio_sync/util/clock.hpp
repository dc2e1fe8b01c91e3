// The injectable clock: nothing in lib/ reads the wall clock directly.
#pragma once

#include <ditio_sync/util/time.hpp>

#include <chrono>

namespace ditio_sync::util {

class clock {
public:
    virtual ~clock() = default;
    virtual std::chrono::system_clock::time_point system_now() const = 0;
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The real clocks; daemon/ passes this one in.
class real_clock final : public clock {
public:
    std::chrono::system_clock::time_point system_now() const override;
    std::chrono::steady_clock::time_point steady_now() const override;
};

// `c`'s wall-clock time at the precision ditio-sync stores (util/time.hpp).
inline sys_micros now_micros(const clock& c)
{
    return std::chrono::time_point_cast<std::chrono::microseconds>(c.system_now());
}

// A clock tests set and advance by hand.
class manual_clock final : public clock {
public:
    explicit manual_clock(std::chrono::system_clock::time_point start = {}) : system_(start) {}
    std::chrono::system_clock::time_point system_now() const override { return system_; }
    std::chrono::steady_clock::time_point steady_now() const override { return steady_; }
    void advance(std::chrono::nanoseconds d)
    {
        system_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
        steady_ += d;
    }

private:
    std::chrono::system_clock::time_point system_;
    std::chrono::steady_clock::time_point steady_{};
};

} // namespace ditio_sync::util

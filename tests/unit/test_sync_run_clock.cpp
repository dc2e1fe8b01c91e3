// Unit tests for sync/run_clock.hpp: which clock a run's watermark comes from.
#include <ditio_sync/sync/run_clock.hpp>
#include <ditio_sync/util/time.hpp>

#include <doctest/doctest.h>

namespace {

using namespace std::chrono_literals;
using ditio_sync::util::sys_micros;

sys_micros at(const char* iso)
{
    return *ditio_sync::util::parse_iso8601(iso);
}

} // namespace

TEST_SUITE_BEGIN("sync");

TEST_CASE("run_clock: the run starts at the earlier of Ditio's Date and the local clock")
{
    using ditio_sync::sync::run_start;
    auto local = at("2026-12-05T10:00:00Z");
    CHECK(run_start(std::nullopt, local) == local);
    CHECK(run_start(at("2026-12-05T09:59:58Z"), local) == at("2026-12-05T09:59:58Z")); // Ditio a bit behind
    CHECK(run_start(at("2026-12-05T10:00:03Z"), local) == local);                      // Ditio a bit ahead
    // A Date of 2999 never becomes the watermark; a local clock three years ahead does not either.
    CHECK(run_start(at("2999-01-01T00:00:00Z"), local) == local);
    CHECK(run_start(at("2023-12-05T10:00:00Z"), local) == at("2023-12-05T10:00:00Z"));
    // A Date before 2000 is no clock at all.
    CHECK(run_start(at("0001-01-01T00:00:00Z"), local) == local);
    CHECK(run_start(at("1970-01-01T00:00:00Z"), local) == local);
    CHECK(run_start(at("2000-01-01T00:00:00Z"), local) == at("2000-01-01T00:00:00Z"));
}

TEST_CASE("run_clock: a skew is reported beyond the tolerance, either way")
{
    using ditio_sync::sync::clock_skew;
    auto local = at("2026-12-05T10:00:00Z");
    CHECK_FALSE(clock_skew(local + 4min, local));
    CHECK_FALSE(clock_skew(local - 4min, local));
    CHECK(clock_skew(local + 6min, local) == std::chrono::microseconds{6min});
    CHECK(clock_skew(local - 6min, local) == -std::chrono::microseconds{6min});
    CHECK(clock_skew(at("2999-01-01T00:00:00Z"), local).has_value());
}

TEST_CASE("run_clock: a watermark past the local clock beyond the tolerance, or before 2000, is implausible")
{
    using ditio_sync::sync::implausible_watermark;
    auto local = at("2026-12-05T10:00:00Z");
    CHECK_FALSE(implausible_watermark(local, local));
    CHECK_FALSE(implausible_watermark(local + 4min, local));
    CHECK_FALSE(implausible_watermark(at("2000-01-01T00:00:00Z"), local));
    CHECK(implausible_watermark(local + 6min, local) == "in the future");
    CHECK(implausible_watermark(at("2999-01-01T00:00:00Z"), local) == "in the future");
    CHECK(implausible_watermark(at("1970-01-01T00:00:00Z"), local) == "before 2000");
    CHECK(implausible_watermark(at("0001-01-01T00:00:00Z"), local) == "before 2000");
}

TEST_SUITE_END();

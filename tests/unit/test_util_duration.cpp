// Unit tests for util/duration.hpp (config durations) and util/backoff.hpp (retry delays, jitter).
#include <ditio_sync/util/backoff.hpp>
#include <ditio_sync/util/duration.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <limits>
#include <vector>

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

} // namespace

TEST_SUITE_BEGIN("util");

TEST_CASE("duration: parse_duration reads every unit")
{
    using ditio_sync::util::parse_duration;
    CHECK(parse_duration("250ms") == milliseconds{250});
    CHECK(parse_duration("90s") == milliseconds{90'000});
    CHECK(parse_duration("15m") == milliseconds{15 * 60'000});
    CHECK(parse_duration("2h") == milliseconds{2 * 3'600'000});
    CHECK(parse_duration("7d") == milliseconds{7LL * 86'400'000});
    CHECK(parse_duration("366d") == milliseconds{366LL * 86'400'000});
    // "ms" must not be read as minutes followed by junk, nor "m" as milliseconds.
    CHECK(parse_duration("1ms") == milliseconds{1});
    CHECK(parse_duration("1m") == milliseconds{60'000});
}

TEST_CASE("duration: parse_duration rejects malformed text")
{
    const std::string bad[] = {
        "",
        "15", // no unit
        "m",  // no number
        "ms",
        "-5s", // negative
        "+5s",
        "1.5h", // fractions
        "15 m", // inner space
        " 15m",
        "15m ",
        "15min",
        "15M",
        "15mss",
        "5s5s",
        "0x10s",
        "99999999999999999999s", // does not fit in 64 bits
        "9223372036854775807d",  // fits, but overflows once converted to milliseconds
        "106751991168d",         // just above the largest whole number of days in int64 milliseconds
    };
    for (const std::string text : bad) {
        CAPTURE(text);
        CHECK_FALSE(ditio_sync::util::parse_duration(text).has_value());
    }
    // The largest day count that still fits is accepted: the overflow check is not off by a unit.
    CHECK(ditio_sync::util::parse_duration("106751991167d") == milliseconds{106751991167LL * 86'400'000});
}

TEST_CASE("duration: format_duration picks the largest exact unit and round trips")
{
    using ditio_sync::util::format_duration;
    using ditio_sync::util::parse_duration;
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(15min) == "15m");
    CHECK(format_duration(2h) == "2h");
    CHECK(format_duration(milliseconds{7LL * 86'400'000}) == "7d");
    CHECK(format_duration(1500ms) == "1500ms");
    CHECK(format_duration(90min) == "90m");
    CHECK(format_duration(36h) == "36h");
    CHECK(format_duration(0ms) == "0ms");

    for (auto d :
         {250ms,
          1000ms,
          1500ms,
          milliseconds{90s},
          milliseconds{15min},
          milliseconds{2h},
          milliseconds{48h},
          milliseconds{7LL * 86'400'000}}) {
        CAPTURE(d.count());
        CHECK(parse_duration(format_duration(d)) == d);
    }
}

TEST_CASE("backoff: delay stays within [0, min(cap, initial * 2^attempt)]")
{
    const auto initial = 100ms;
    const auto cap = 5000ms;
    ditio_sync::util::backoff b(initial, cap, 42);
    for (unsigned attempt = 0; attempt < 12; ++attempt) {
        auto ceiling = std::min<milliseconds::rep>(cap.count(), initial.count() << attempt);
        milliseconds::rep lowest = std::numeric_limits<milliseconds::rep>::max();
        milliseconds::rep highest = -1;
        for (int i = 0; i < 2000; ++i) {
            auto d = b.delay(attempt).count();
            lowest = std::min(lowest, d);
            highest = std::max(highest, d);
        }
        CAPTURE(attempt);
        CAPTURE(ceiling);
        CHECK(lowest >= 0);
        CHECK(highest <= ceiling);
        // Full jitter: the samples cover the range, so the ceiling is really the one above.
        CHECK(highest > ceiling * 9 / 10);
        CHECK(lowest < ceiling / 10 + 1);
    }
}

TEST_CASE("backoff: huge attempt numbers stay at the cap without overflow")
{
    ditio_sync::util::backoff b(1000ms, 60'000ms, 7);
    for (unsigned attempt : {40u, 63u, 64u, 1000u, UINT_MAX}) {
        for (int i = 0; i < 200; ++i) {
            auto d = b.delay(attempt);
            CAPTURE(attempt);
            CHECK(d >= 0ms);
            CHECK(d <= 60'000ms);
        }
    }
}

TEST_CASE("backoff: the same seed gives the same delays, another seed other delays")
{
    ditio_sync::util::backoff a(250ms, 30'000ms, 1234);
    ditio_sync::util::backoff b(250ms, 30'000ms, 1234);
    ditio_sync::util::backoff c(250ms, 30'000ms, 4321);
    std::vector<milliseconds> from_a, from_b, from_c;
    for (unsigned i = 0; i < 50; ++i) {
        from_a.push_back(a.delay(i % 8));
        from_b.push_back(b.delay(i % 8));
        from_c.push_back(c.delay(i % 8));
    }
    CHECK(from_a == from_b);
    CHECK(from_a != from_c);
}

TEST_CASE("backoff: jittered stays within +-fraction of the base")
{
    ditio_sync::util::backoff b(1s, 60s, 99);
    const auto base = 10'000ms;
    milliseconds::rep lowest = std::numeric_limits<milliseconds::rep>::max();
    milliseconds::rep highest = -1;
    for (int i = 0; i < 2000; ++i) {
        auto d = b.jittered(base, 0.1).count();
        lowest = std::min(lowest, d);
        highest = std::max(highest, d);
    }
    CHECK(lowest >= 9'000);
    CHECK(highest <= 11'000);
    // Both directions occur, and the spread uses most of the allowed band.
    CHECK(lowest < 9'200);
    CHECK(highest > 10'800);

    SUBCASE("fraction 0 gives the base exactly")
    {
        for (int i = 0; i < 20; ++i)
            CHECK(b.jittered(base, 0.0) == base);
    }
    SUBCASE("deterministic for a seed")
    {
        ditio_sync::util::backoff x(1s, 60s, 5);
        ditio_sync::util::backoff y(1s, 60s, 5);
        for (int i = 0; i < 20; ++i)
            CHECK(x.jittered(base, 0.2) == y.jittered(base, 0.2));
    }
}

TEST_CASE("backoff: delay_at_least_half stays within [ceiling / 2, ceiling]")
{
    ditio_sync::util::backoff b(std::chrono::seconds{30}, std::chrono::minutes{15}, 11);
    for (unsigned attempt = 0; attempt < 8; ++attempt) {
        auto ceiling = std::min<std::int64_t>(30'000LL << attempt, 900'000);
        for (int i = 0; i < 200; ++i) {
            auto d = b.delay_at_least_half(attempt).count();
            CHECK(d >= ceiling / 2);
            CHECK(d <= ceiling);
        }
    }
    ditio_sync::util::backoff short_interval(std::chrono::seconds{30}, std::chrono::seconds{2}, 3);
    for (int i = 0; i < 100; ++i) {
        auto d = short_interval.delay_at_least_half(0).count();
        CHECK(d >= 1000);
        CHECK(d <= 2000);
    }
}

TEST_SUITE_END();

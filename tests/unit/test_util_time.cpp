// Unit tests for util/time.hpp: ISO-8601 parsing and formatting, change keys, HTTP dates.
#include <ditio_sync/util/time.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono;
using ditio_sync::util::sys_micros;

// 2026-10-01T00:00:00Z, the anchor most cases below are relative to.
sys_micros oct_1()
{
    return sys_micros{sys_days{year{2026} / October / 1}};
}

} // namespace

TEST_SUITE_BEGIN("util");

TEST_CASE("time: parse_iso8601 reads a bare date as midnight UTC")
{
    auto t = ditio_sync::util::parse_iso8601("2026-10-01");
    REQUIRE(t.has_value());
    CHECK(*t == oct_1());

    auto leap = ditio_sync::util::parse_iso8601("2024-02-29");
    REQUIRE(leap.has_value());
    CHECK(*leap == sys_micros{sys_days{year{2024} / February / 29}});
}

TEST_CASE("time: parse_iso8601 reads Z, no offset as UTC, and numeric offsets")
{
    auto expected = oct_1() + hours{6} + minutes{2} + seconds{11};

    SUBCASE("Z")
    {
        CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11Z") == expected);
    }
    SUBCASE("no offset is UTC")
    {
        CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11") == expected);
    }
    SUBCASE("+02:00 is two hours ahead of UTC")
    {
        CHECK(ditio_sync::util::parse_iso8601("2026-10-01T08:02:11+02:00") == expected);
    }
    SUBCASE("-05:30 is five and a half hours behind UTC")
    {
        CHECK(ditio_sync::util::parse_iso8601("2026-10-01T00:32:11-05:30") == expected);
    }
    SUBCASE("an offset can cross midnight")
    {
        CHECK(ditio_sync::util::parse_iso8601("2026-10-01T01:00:00+02:00") == oct_1() - hours{1});
    }
}

TEST_CASE("time: parse_iso8601 keeps fractions up to microseconds and truncates the rest")
{
    auto base = oct_1() + hours{6} + minutes{2} + seconds{11};
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.5Z") == base + microseconds{500000});
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.12Z") == base + microseconds{120000});
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.123Z") == base + microseconds{123000});
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.123456Z") == base + microseconds{123456});
    // .NET writes seven digits; the seventh (100 ns) is dropped, not rounded.
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.1234567Z") == base + microseconds{123456});
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T06:02:11.9999999Z") == base + microseconds{999999});
    CHECK(ditio_sync::util::parse_iso8601("2026-10-01T08:02:11.25+02:00") == base + microseconds{250000});
}

TEST_CASE("time: parse_iso8601 rejects garbage and impossible dates and times")
{
    const std::string bad[] = {
        "",
        "garbage",
        "2026",
        "2026-10",
        "2026/10/01",
        "2026-1-01",
        "26-10-01",
        "2026-02-30",
        "2025-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-10-00",
        "2026-10-01T25:00:00Z",
        "2026-10-01T24:00:00Z",
        "2026-10-01T06:60:00Z",
        "2026-10-01T06:02",
        "2026-10-01T06:02:1",
        "2026-10-01T",
        "2026-10-01X06:02:11Z",
        "2026-10-01T06:02:11.Z",
        "2026-10-01T06:02:11ZZ",
        "2026-10-01T06:02:11 Z",
        "2026-10-01T06:02:11+0200",
        "2026-10-01T06:02:11+02",
        "2026-10-01T06:02:11+ab:00",
        "2026-10-01junk",
    };
    for (const std::string text : bad) {
        CAPTURE(text);
        CHECK_FALSE(ditio_sync::util::parse_iso8601(text).has_value());
    }
}

TEST_CASE("time: format_iso8601_ms and _s round trip through parse_iso8601")
{
    auto t = oct_1() + hours{6} + minutes{2} + seconds{11} + microseconds{123456};
    CHECK(ditio_sync::util::format_iso8601_ms(t) == "2026-10-01T06:02:11.123Z");
    CHECK(ditio_sync::util::format_iso8601_s(t) == "2026-10-01T06:02:11Z");
    CHECK(ditio_sync::util::format_iso8601_ms(oct_1()) == "2026-10-01T00:00:00.000Z");

    // Formatting truncates to the unit; parsing the text gives back exactly the truncated time.
    CHECK(ditio_sync::util::parse_iso8601(ditio_sync::util::format_iso8601_ms(t)) == floor<milliseconds>(t));
    CHECK(ditio_sync::util::parse_iso8601(ditio_sync::util::format_iso8601_s(t)) == floor<seconds>(t));

    // Before the epoch the day must still be floored, not truncated towards zero.
    auto before_epoch = sys_micros{sys_days{year{1969} / December / 31}} + hours{23} + minutes{59} +
                        seconds{59} + milliseconds{500};
    CHECK(ditio_sync::util::format_iso8601_ms(before_epoch) == "1969-12-31T23:59:59.500Z");
    CHECK(ditio_sync::util::parse_iso8601(ditio_sync::util::format_iso8601_ms(before_epoch)) == before_epoch);

    for (const std::string text :
         {"2026-10-01T06:02:11.123Z", "2000-02-29T23:59:59.999Z", "1970-01-01T00:00:00.000Z"}) {
        CAPTURE(text);
        auto parsed = ditio_sync::util::parse_iso8601(text);
        REQUIRE(parsed.has_value());
        CHECK(ditio_sync::util::format_iso8601_ms(*parsed) == text);
    }
}

TEST_CASE("time: change_key is fixed-width and orders change times lexically")
{
    using ditio_sync::util::change_key;
    auto a = change_key("2026-10-01T06:02:11Z");
    auto b = change_key("2026-10-01T06:02:11.5Z");
    auto c = change_key("2026-10-01T06:02:12Z");
    CHECK(a == "2026-10-01T06:02:11.000000Z");
    CHECK(b == "2026-10-01T06:02:11.500000Z");
    CHECK(a < b);
    CHECK(b < c);
    CHECK(a.size() == b.size());
    CHECK(b.size() == c.size());

    // Different spellings of one instant give one key.
    CHECK(change_key("2026-10-01T06:02:11.1234567Z") == change_key("2026-10-01T06:02:11.123456Z"));
    CHECK(change_key("2026-10-01T08:02:11+02:00") == a);
    CHECK(change_key("2026-10-01T06:02:11") == a);
    // Plain string comparison of the raw texts would get this one wrong ("1" < "Z").
    CHECK(change_key("2026-10-01T06:02:11.1Z") > change_key("2026-10-01T06:02:11Z"));

    SUBCASE("unparseable text gives the empty key, which sorts first")
    {
        CHECK(change_key("").empty());
        CHECK(change_key("not a date").empty());
        CHECK(change_key("2026-02-30T00:00:00Z").empty());
        CHECK(change_key("garbage") < a);
    }
}

TEST_CASE("time: parse_http_date and format_http_date round trip IMF-fixdate")
{
    using ditio_sync::util::format_http_date;
    using ditio_sync::util::parse_http_date;

    auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    REQUIRE(t.has_value());
    CHECK(*t == sys_micros{sys_days{year{1994} / November / 6}} + hours{8} + minutes{49} + seconds{37});
    CHECK(format_http_date(*t) == "Sun, 06 Nov 1994 08:49:37 GMT");

    // The weekday is computed, not copied: these were checked against date(1).
    CHECK(format_http_date(oct_1() + hours{6} + minutes{2} + seconds{11}) == "Thu, 01 Oct 2026 06:02:11 GMT");
    CHECK(format_http_date(sys_micros{}) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(
        format_http_date(sys_micros{sys_days{year{2000} / February / 29}}) == "Tue, 29 Feb 2000 00:00:00 GMT"
    );
    CHECK(
        format_http_date(
            sys_micros{sys_days{year{2024} / December / 31}} + hours{23} + minutes{59} + seconds{59}
        ) == "Tue, 31 Dec 2024 23:59:59 GMT"
    );

    // Sub-second parts are dropped by the format.
    CHECK(format_http_date(oct_1() + milliseconds{999}) == "Thu, 01 Oct 2026 00:00:00 GMT");

    for (const std::string text : {"Thu, 01 Oct 2026 06:02:11 GMT", "Tue, 29 Feb 2000 00:00:00 GMT"}) {
        CAPTURE(text);
        auto parsed = parse_http_date(text);
        REQUIRE(parsed.has_value());
        CHECK(format_http_date(*parsed) == text);
    }
}

TEST_CASE("time: parse_http_date rejects other date forms")
{
    const std::string bad[] = {
        "",
        "Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850
        "Sun Nov  6 08:49:37 1994",       // asctime
        "06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 94xx 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
    };
    for (const std::string text : bad) {
        CAPTURE(text);
        CHECK_FALSE(ditio_sync::util::parse_http_date(text).has_value());
    }
}

TEST_CASE("time: parse_http_date rejects out-of-range times and wrong separators")
{
    // These have the IMF-fixdate length, so only field validation can catch them.
    const std::string bad[] = {
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:61:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
    };
    for (const std::string text : bad) {
        CAPTURE(text);
        CHECK_FALSE(ditio_sync::util::parse_http_date(text).has_value());
    }
}

TEST_SUITE_END();

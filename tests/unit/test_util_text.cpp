// util::closest and util::suggest: the "did you mean" of unknown keys, sections and streams.
#include <ditio_sync/util/text.hpp>

#include <doctest/doctest.h>

#include <array>
#include <string_view>

namespace util = ditio_sync::util;

TEST_CASE("closest: a typo finds what was meant; an unrelated word finds nothing")
{
    constexpr std::array<std::string_view, 6> keys{
        "interval", "overlap", "chunk_limit", "full_from", "full_ahead", "streams"};
    CHECK(util::closest("intervall", keys) == "interval");     // one extra letter
    CHECK(util::closest("chunk_limt", keys) == "chunk_limit"); // one missing
    CHECK(util::closest("ovrelap", keys) == "overlap");        // two swapped neighbours: one edit
    CHECK(util::closest("STREAMS", keys) == "streams");        // case does not count
    CHECK(util::closest("full_ahaed", keys) == "full_ahead");
    CHECK(!util::closest("password", keys));
    CHECK(!util::closest("ab", keys)); // too short to be a typo of anything here
    CHECK(!util::closest("", keys));
    CHECK(!util::closest(std::string(1000, 'x'), keys));

    constexpr std::array<std::string_view, 3> streams{
        "time-registrations", "machine-registrations", "project"};
    CHECK(util::closest("time-registration", streams) == "time-registrations");
    CHECK(util::closest("projects", streams) == "project");
    CHECK(!util::closest("registrations", streams));
}

TEST_CASE("suggest: names the likely key first, then every valid one")
{
    constexpr std::array<std::string_view, 3> keys{"level", "format", "file"};
    CHECK(util::suggest("levle", keys) == "did you mean 'level'? valid: level, format, file");
    CHECK(util::suggest("colour", keys) == "valid: level, format, file");
}

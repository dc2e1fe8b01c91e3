// The one list of log events (log/events.hpp) against itself and against README's event table, which is
// this list rendered. (That every event the code logs is in the list is the compiler's job: see
// tests/compile_fail and the "build:" tests.)
#include <ditio_sync/log/events.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace dlog = ditio_sync::log;

namespace {

std::string rendered_table()
{
    std::string out = "| event | meaning | fields |\n|---|---|---|\n";
    for (const auto& e : dlog::events)
        out += fmt::format("| `{}` | {} | {} |\n", e.name, e.meaning, e.fields);
    return out;
}

std::string readme()
{
    std::ifstream in(std::string(DITIO_SYNC_SOURCE_DIR) + "/README.md");
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("log events: each is listed once, named section.event, with a meaning and fields")
{
    std::set<std::string_view> seen;
    const std::regex name_rule("[a-z]+\\.[a-z_]+");
    for (const auto& e : dlog::events) {
        INFO(e.name);
        CHECK(seen.insert(e.name).second);
        CHECK(std::regex_match(std::string(e.name), name_rule));
        CHECK(!e.meaning.empty());
        CHECK(!e.fields.empty());
        // A '|' would break the README's table.
        CHECK(e.meaning.find('|') == std::string_view::npos);
        CHECK(e.fields.find('|') == std::string_view::npos);
    }
    CHECK(seen.size() >= 50);
    static_assert(dlog::is_known_event("sync.page_committed"));
    static_assert(!dlog::is_known_event("sync.page_done"));
    CHECK(dlog::event_name("app.started").str() == "app.started");
}

TEST_CASE("log events: README's event table is log::events, row for row")
{
    const std::string begin = "<!-- log-events:begin (generated from lib/ditio_sync/log/events.hpp) -->\n";
    const std::string end = "<!-- log-events:end -->";
    auto text = readme();
    auto from = text.find(begin);
    REQUIRE_MESSAGE(from != std::string::npos, "README.md has no '" << begin << "'");
    from += begin.size();
    auto to = text.find(end, from);
    REQUIRE(to != std::string::npos);
    auto table = text.substr(from, to - from);
    // Printed whole on a mismatch: paste it between the markers.
    CHECK_MESSAGE(table == rendered_table(), "README's event table should read:\n" << rendered_table());
}

// End-to-end: `ditio-sync capture` records a short sync for support, with every secret removed, and
// `ditio-fake --replay` (the fake's replay_file) serves such a file back to a daemon that mirrors it.
#include "harness.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <set>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

json::array exchanges_of(const fs::path& file)
{
    return json::parse(read_file(file)).at("exchanges").as_array();
}

// The ids of the records in the answered pages of `stream`, in the order captured.
std::vector<std::string> captured_ids(const json::array& exchanges, std::string_view stream)
{
    std::vector<std::string> ids;
    for (const auto& e : exchanges) {
        const auto& o = e.as_object();
        auto url = std::string(o.at("url").as_string());
        if (!contains(url.substr(0, url.find('?')), fmt::format("/v1/{}", stream)) || !o.contains("status") ||
            o.at("status").as_int64() != 200)
            continue;
        auto page = json::parse(o.at("body").as_string());
        for (const auto& r : page.at("data").as_array())
            ids.emplace_back(r.at("id").as_string());
    }
    return ids;
}

std::size_t requests_to(const testing::fake_ditio& server, std::string_view suffix)
{
    std::size_t n = 0;
    for (const auto& r : server.requests())
        n += r.path.ends_with(suffix) ? 1 : 0;
    return n;
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e capture: a short sync is recorded without secrets, and its replay mirrors the same rows")
{
    fixture_options o;
    o.records = 300;
    fixture fx(o);
    fx.server().seed_streams(20, 7);
    auto file = fx.dir() / "capture.json";
    auto res = fx.run(
        {"capture",
         "time-registrations",
         "project",
         "--pages",
         "2",
         "--chunk-limit",
         "40",
         "--out",
         file.string()}
    );
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK(contains(res.out, "captured"));
    CHECK(contains(res.out, "time-registrations: page limit reached (2 pages)"));
    // The mirror is neither created nor written: the capture syncs into a scratch database.
    CHECK_FALSE(fs::exists(fx.db()));
    // Two pages asked, no third: the page limit stops before the next page is fetched.
    CHECK(requests_to(fx.server(), "/v1/time-registrations") == 2);

    auto text = read_file(file);
    CHECK_FALSE(contains(text, fx.secret()));
    for (const auto& token : fx.server().issued_tokens())
        CHECK_FALSE(contains(text, token));
    CHECK(contains(text, "[redacted]"));
    CHECK(
        (fs::status(file).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none
    );

    auto exchanges = exchanges_of(file);
    auto ids = captured_ids(exchanges, "time-registrations");
    CHECK(ids.size() == 80);
    auto projects = captured_ids(exchanges, "project");
    CHECK_FALSE(projects.empty());

    // The capture served back: a daemon pointed at it mirrors exactly the captured records.
    fixture_options r;
    r.records = 10;
    r.server.replay_file = file;
    fixture replay(r);
    auto synced = replay.run({"sync", "time-registrations", "project"});
    INFO(synced.err);
    CHECK(synced.exit_code == 0);
    auto rows = read_mirror(replay.db());
    std::set<std::string> mirrored;
    for (const auto& [id, row] : rows)
        mirrored.insert(id);
    CHECK(mirrored == std::set<std::string>(ids.begin(), ids.end()));
    CHECK(
        query_int(replay.db(), "SELECT count(*) FROM projects") == static_cast<std::int64_t>(projects.size())
    );
    CHECK(
        query_int(
            replay.db(),
            "SELECT count(*) FROM sync_runs WHERE stream = 'time-registrations' AND status = 'ok'"
        ) == 1
    );
}

TEST_CASE("e2e capture: it asks what the next sync would ask, and never touches the mirror's state")
{
    fixture fx;
    REQUIRE(fx.run({"sync", "time-registrations"}).exit_code == 0);
    auto watermark =
        query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'");
    REQUIRE(watermark);
    auto runs = query_int(fx.db(), "SELECT count(*) FROM sync_runs");

    auto next = fx.dir() / "next.json";
    auto res = fx.run({"capture", "time-registrations", "--pages", "1", "--out", next.string()});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto full = fx.dir() / "full.json";
    res = fx.run({"capture", "time-registrations", "--pages", "1", "--full", "--out", full.string()});
    REQUIRE(res.exit_code == 0);

    auto page_url = [](const fs::path& file) {
        for (const auto& e : exchanges_of(file)) {
            auto url = std::string(e.at("url").as_string());
            if (contains(url, "/v1/time-registrations"))
                return url;
        }
        return std::string{};
    };
    CHECK(contains(page_url(next), "ModifiedSince="));
    CHECK_FALSE(contains(page_url(full), "ModifiedSince="));
    CHECK(contains(page_url(full), "FromDateTime="));

    CHECK(
        query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'") ==
        watermark
    );
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs") == runs);
}

TEST_CASE("e2e capture: a capture from the field replays as a regression test (empty-string end of stream)")
{
    // tests/data/captures/end-of-stream-empty.json: three pages of time registrations from a Ditio whose
    // last page says "no more" with "continuationToken": "" (see docs/live-ditio.md, section 9).
    fixture_options r;
    r.records = 10;
    r.server.replay_file = fs::path(DITIO_SYNC_SOURCE_DIR) / "tests/data/captures/end-of-stream-empty.json";
    fixture fx(r);
    auto expected = captured_ids(exchanges_of(r.server.replay_file), "time-registrations");
    REQUIRE(expected.size() == 7);
    auto res = fx.run({"sync", "time-registrations"});
    INFO(res.err);
    CHECK(res.exit_code == 0);
    auto rows = read_mirror(fx.db());
    std::set<std::string> mirrored;
    for (const auto& [id, row] : rows)
        mirrored.insert(id);
    CHECK(mirrored == std::set<std::string>(expected.begin(), expected.end()));
    CHECK(
        query_int(
            fx.db(), "SELECT count(*) FROM sync_runs WHERE stream = 'time-registrations' AND status = 'ok'"
        ) == 1
    );
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'")
              .has_value());
}

TEST_SUITE_END();

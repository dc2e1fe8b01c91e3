// End-to-end: `check` as a doctor against the fake Ditio: one cheap request per configured stream, the
// clock, the Integration API probed read-only, each said once, and an exit code that is 0 only when
// everything the configuration asks for works.
#include "harness.hpp"

#include <ditio_sync/util/time.hpp>

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

constexpr const char* three_streams = R"(["time-registrations", "machine-registrations", "project"])";

// The check named `name` of a `check --json` document.
json::object check_named(const json::value& doc, std::string_view name)
{
    for (const auto& c : doc.at("checks").as_array())
        if (c.at("check").as_string() == name)
            return c.as_object();
    FAIL("no check named " << name);
    return {};
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e check: every configured stream answers one cheap request; --json says the same for scripts")
{
    fixture fx;
    fx.server().seed_streams(30, 3);
    fx.set_setting("sync.streams", three_streams);
    auto res = fx.run({"check"});
    INFO(res.out << res.err);
    CHECK(res.exit_code == 0);
    CHECK(res.out.starts_with("ok: "));
    for (const char* stream : {"time-registrations", "machine-registrations", "project"})
        CHECK(contains(res.out, fmt::format("stream {}: ok (HTTP 200 in", stream)));
    CHECK(contains(res.out, "the record carries id and modifiedDateTime; a continuation token came back"));
    CHECK(contains(res.out, "integration: ok ("));
    CHECK(contains(res.out, "answers as Ditio"));
    CHECK(contains(res.out, "clock: ok (Ditio's clock and ours agree"));

    // One page of one record each: ChunkLimit=1, never more than two requests a stream.
    std::map<std::string, int> per_path;
    for (const auto& r : fx.server().requests())
        if (contains(r.path, "/v1/")) {
            CHECK(r.query.at("chunklimit") == "1");
            ++per_path[r.path];
        }
    CHECK(per_path.size() == 3);
    for (const auto& [path, n] : per_path) {
        CAPTURE(path);
        CHECK(n <= 2);
    }
    // The Integration API is only read: one GET by a number that cannot exist, no write.
    CHECK(fx.server().integration_writes().empty());

    auto js = fx.run({"check", "--json"});
    REQUIRE(js.exit_code == 0);
    auto doc = json::parse(js.out);
    CHECK(doc.at("verdict").as_string() == "ok");
    auto tr = check_named(doc, "stream time-registrations");
    CHECK(tr.at("result").as_string() == "ok");
    CHECK(tr.at("status").as_int64() == 200);
    CHECK(tr.at("record_has_id").as_bool());
    CHECK(tr.at("record_has_modified").as_bool());
    CHECK(tr.at("continuation").as_bool());
    CHECK(check_named(doc, "database").at("schema_version").as_int64() >= 5);
}

TEST_CASE("e2e check: a failing stream is named first and fails the check; the others are still checked")
{
    fixture fx;
    fx.server().seed_streams(10, 3);
    fx.set_setting("sync.streams", three_streams);
    fx.set_setting("http.max_retries", "0");
    fx.server().inject(status_fault(500, 1000, {}, "/v1/machine-registrations"));
    auto res = fx.run({"check"});
    INFO(res.out << res.err);
    CHECK(res.exit_code == 1);
    CHECK(res.out.starts_with("problems: stream machine-registrations (exit code 1)"));
    CHECK(contains(res.out, "stream machine-registrations: failed ("));
    CHECK(contains(res.out, "HTTP 500 InternalServerError: Injected fault."));
    CHECK(contains(res.out, "stream time-registrations: ok"));
    CHECK(contains(res.out, "stream project: ok"));
}

TEST_CASE("e2e check: a record without an id is found before a sync would quarantine it")
{
    fixture fx;
    testing::fault f;
    f.what = testing::fault::kind::bad_record;
    f.path_suffix = "/v1/time-registrations";
    f.body = R"({"modifiedDateTime":"2026-11-30T10:00:00Z","qty":1})";
    f.count = 10;
    fx.server().inject(f);
    auto res = fx.run({"check"});
    INFO(res.out << res.err);
    CHECK(res.exit_code == 1);
    CHECK(res.out.starts_with("problems: stream time-registrations"));
    CHECK(contains(res.out, "the record breaks the record contract (no id): sync would quarantine it"));
    // check only reads Ditio: nothing was quarantined.
    CHECK(query_int(fx.db(), "SELECT count(*) FROM quarantine") == 0);
}

TEST_CASE("e2e check: Ditio's clock far off is a warning with the skew, not a failure")
{
    fixture fx;
    testing::fault f;
    f.what = testing::fault::kind::date;
    f.header = util::format_http_date(
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()) +
        std::chrono::hours{2}
    );
    f.path_suffix = "/v1/time-registrations";
    f.count = 10;
    fx.server().inject(f);
    auto res = fx.run({"check"});
    INFO(res.out << res.err);
    CHECK(res.exit_code == 0);
    CHECK(contains(res.out, "clock: warning (Ditio's clock is 7"));
    CHECK(contains(res.out, "s ahead of ours"));
}

TEST_SUITE_END();

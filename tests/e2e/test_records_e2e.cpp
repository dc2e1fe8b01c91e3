// End-to-end for records Ditio's documentation leaves room for (issue 15, items 6 and 7): images that are
// one row per image and parent, whatever the parent field is called, their tombstones, the Sources list
// sent as repeated keys; and a record that breaks the record contract, quarantined while its page commits.
#include "harness.hpp"

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <set>
#include <string>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

fixture_options images_options()
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 25;
    o.settings["sync.streams"] = R"(["images"])";
    return o;
}

// The live rows of one image id: their parent references.
std::set<std::string> parents_of(const std::filesystem::path& db, const std::string& id)
{
    SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(d, "SELECT parent_ref FROM images WHERE id = ? AND is_deleted = 0");
    q.bind(1, id);
    std::set<std::string> out;
    while (q.executeStep())
        out.insert(q.getColumn(0).getString());
    return out;
}

std::int64_t live_images_on_server(const testing::fake_ditio& server)
{
    std::int64_t n = 0;
    for (const auto& [key, rec] : server.snapshot("images"))
        n += rec.deleted ? 0 : 1;
    return n;
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e: an image attached to two parents is two rows, whatever the parent field is called")
{
    struct shape {
        std::string field;    // the key the fake serves the parent id under ("" none)
        std::string expected; // what parent_ref starts with after the source
    };
    for (const auto& s :
         {shape{"parentId", ":parentId="},
          shape{"parentRecordId", ":parentRecordId="},
          shape{"", ":projectId="}}) {
        CAPTURE(s.field);
        fixture fx(images_options());
        fx.server().seed_streams(60, 7);
        fx.server().set_image_parent_field(s.field);
        auto shared = fx.server().share_images(3);
        REQUIRE(shared.size() == 3);
        auto res = fx.run({"sync"});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
        // Every row the server serves is a row of the mirror: none collapsed.
        CHECK(query_int(fx.db(), "SELECT count(*) FROM v_images") == live_images_on_server(fx.server()));
        for (const auto& id : shared) {
            auto parents = parents_of(fx.db(), id);
            CHECK_MESSAGE(parents.size() == 2, id);
            for (const auto& p : parents)
                CHECK_MESSAGE(p.find(s.expected) != std::string::npos, p);
        }
        auto told = lines_with_event(res.err, "sync.parent_unknown");
        if (s.field == "parentId" || s.field == "parentRecordId")
            CHECK(told.empty());
        else
            CHECK(told.size() == 1); // once per run, not per record

        // Ditio deletes a shared image: an empty tombstone per row, carrying only the id.
        fx.server().remove("images", {shared.front()});
        res = fx.run({"sync"});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
        CHECK(parents_of(fx.db(), shared.front()).empty());
        CHECK(
            query_int(
                fx.db(),
                fmt::format("SELECT count(*) FROM images WHERE id = '{}' AND is_deleted = 1", shared.front())
            ) == 2
        );
        CHECK(parents_of(fx.db(), shared.back()).size() == 2);
        CHECK(query_int(fx.db(), "SELECT count(*) FROM v_images") == live_images_on_server(fx.server()));
    }
}

TEST_CASE("e2e: Sources goes to Ditio as one repeated key per value, and filters")
{
    auto o = images_options();
    o.extra_toml = "[streams.\"images\"]\nsources = [\"feed\", \"checklist\"]\n";
    fixture fx(o);
    fx.server().seed_streams(80, 11);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    std::size_t seen = 0;
    for (const auto& r : fx.server().requests()) {
        if (!r.path.ends_with("/v1/images"))
            continue;
        ++seen;
        CHECK_MESSAGE(r.raw_query.find("Sources=feed&Sources=checklist") != std::string::npos, r.raw_query);
        CHECK(r.raw_query.find("%2C") == std::string::npos); // no comma-joined value
    }
    CHECK(seen > 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_images WHERE source = 'alert'") == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_images WHERE source = 'feed'") > 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_images WHERE source = 'checklist'") > 0);
}

TEST_CASE("e2e: a record that breaks the record contract is quarantined; its stream syncs the rest")
{
    fixture_options o;
    o.records = 300;
    o.chunk_limit = 50;
    fixture fx(o);
    const std::string bad =
        R"({"id":"odd-1","modifiedDateTime":"31.12.2026 kl 25","qty":7.5,"isDeleted":false})";
    testing::fault f;
    f.what = testing::fault::kind::bad_record;
    f.path_suffix = "/v1/time-registrations";
    f.body = bad;
    fx.server().inject(f);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations WHERE id = 'odd-1'") == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM quarantine WHERE stream = 'time-registrations'") == 1);
    CHECK(
        query_text(fx.db(), "SELECT reason || '|' || data FROM quarantine") ==
        "modifiedDateTime is not a date-time|" + bad
    );
    auto events = lines_with_event(res.err, "sync.record_quarantined");
    REQUIRE(events.size() == 1);
    CHECK(events.front().find("odd-1") != std::string::npos);
    // Not complete while a record is set aside: v_sync_freshness and status agree.
    CHECK(query_text(fx.db(), "SELECT watermark IS NOT NULL FROM v_sync_freshness") == "1");
    CHECK_FALSE(query_text(fx.db(), "SELECT complete_through FROM v_sync_freshness").has_value());
    CHECK(query_int(fx.db(), "SELECT quarantined FROM v_sync_freshness") == 1);
    auto status = fx.run({"status", "--json"});
    REQUIRE(status.exit_code == 0);
    auto report = json::parse(status.out).as_object();
    CHECK(report.at("verdict") == "attention");
    const auto& stream = report.at("streams").as_array().at(0).as_object();
    CHECK(stream.at("quarantined").as_int64() == 1);
    CHECK(stream.at("state") == "incomplete");
    CHECK(stream.at("data_complete_through").is_null());
    auto text = fx.run({"status"});
    CHECK_MESSAGE(text.out.find("with quarantined records") != std::string::npos, text.out);

    // Seen again by the next run: the same entry, seen twice.
    fx.server().inject(f);
    res = fx.run({"sync"});
    REQUIRE(res.exit_code == 0);
    CHECK(query_int(fx.db(), "SELECT times_seen FROM quarantine") == 2);

    // A full re-sync that no longer returns it clears it, and the stream is complete again.
    res = fx.run({"sync", "--full"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM quarantine") == 0);
    CHECK(query_text(fx.db(), "SELECT complete_through FROM v_sync_freshness").has_value());
}

TEST_CASE("e2e: a page of many bad records logs a capped number of lines")
{
    fixture_options o;
    o.records = 20;
    o.chunk_limit = 100;
    fixture fx(o);
    std::string many;
    for (int i = 0; i < 40; ++i)
        many += fmt::format("{}{{\"n\":{},\"modifiedDateTime\":\"2026-01-01T00:00:00Z\"}}", i ? "," : "", i);
    testing::fault f;
    f.what = testing::fault::kind::bad_record;
    f.path_suffix = "/v1/time-registrations";
    f.body = many;
    fx.server().inject(f);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM quarantine") == 40);
    check_mirror_exact(fx.server(), fx.db());
    auto lines = lines_with_event(res.err, "sync.record_quarantined");
    CHECK(lines.size() == 6); // five records, then one line with the count of the rest
    CHECK(lines.back().find("\"not_logged\":35") != std::string::npos);
}

TEST_CASE("e2e: a malformed page is still refused and retried, never committed")
{
    fixture_options o;
    o.records = 50;
    fixture fx(o);
    testing::fault f;
    f.what = testing::fault::kind::bad_record;
    f.path_suffix = "/v1/time-registrations";
    f.body = R"("not an object")";
    fx.server().inject(f);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0); // the retry got a good page
    CHECK(res.err.find("record 0 is not an object") != std::string::npos);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM quarantine") == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_SUITE_END();

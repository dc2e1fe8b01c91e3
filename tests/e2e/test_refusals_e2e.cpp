// End-to-end tests of the refusals Ditio's sources leave open (docs/live-ditio.md, sections 1 and 2): a
// full-sync window refused with a 400 in any of the shapes the sources allow, a refusal that is not about
// the window, an incremental run refused for a ModifiedSince too far back, and max_incremental_age.
#include "harness.hpp"

#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;
using testing::refusal_shape;

namespace {

constexpr const char* machine = "machine-registrations";
constexpr const char* machine_table = "machine_registrations";

const std::vector<std::pair<const char*, refusal_shape>> shapes{
    {"specific", refusal_shape::specific},
    {"problem+json", refusal_shape::problem},
    {"empty body", refusal_shape::empty},
};

std::vector<testing::request_record> requests_for(const testing::fake_ditio& server, std::string_view path)
{
    std::vector<testing::request_record> out;
    for (auto& r : server.requests())
        if (r.path.ends_with(path))
            out.push_back(r);
    return out;
}

std::string param(const testing::request_record& r, const std::string& key)
{
    auto it = r.query.find(key);
    return it == r.query.end() ? std::string{} : it->second;
}

std::size_t refused(const std::vector<testing::request_record>& requests)
{
    std::size_t n = 0;
    for (const auto& r : requests)
        n += r.status == 400 ? 1 : 0;
    return n;
}

// The length of a request's window in days (FromDateTime .. ToDateTime).
std::int64_t window_days(const testing::request_record& r)
{
    auto from = util::parse_iso8601(param(r, "fromdatetime"));
    auto to = util::parse_iso8601(param(r, "todatetime"));
    REQUIRE((from && to));
    return std::chrono::duration_cast<std::chrono::hours>(*to - *from).count() / 24;
}

void exec_sql(const std::filesystem::path& db, const std::string& sql)
{
    SQLite::Database c(db.string(), SQLite::OPEN_READWRITE);
    c.setBusyTimeout(5000);
    c.exec(sql);
}

// A field of the one log line with `event`.
json::object only_event(const std::string& log, const std::string& event)
{
    auto lines = lines_with_event(log, event);
    REQUIRE(lines.size() == 1);
    return json::parse(lines.front()).as_object();
}

fixture_options machine_options()
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 40;
    o.settings["sync.streams"] = R"(["machine-registrations"])";
    o.settings["streams.\"machine-registrations\".full_from"] = R"("2026-07-01")";
    o.settings["streams.\"machine-registrations\".full_ahead"] = R"("30d")";
    return o;
}

// The watermark a daemon that was down for `days` left behind.
void downtime(fixture& fx, int days)
{
    exec_sql(
        fx.db(),
        fmt::format(
            "UPDATE sync_state SET watermark = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{} days') "
            "WHERE stream = 'machine-registrations'",
            days
        )
    );
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e: a window refused in any shape is halved until accepted, and the next full sync starts there")
{
    for (const auto& [name, shape] : shapes) {
        CAPTURE(name);
        fixture fx(machine_options());
        fx.server().seed_streams(200, 21, "2026-07-01", "2026-11-20");
        fx.server().set_max_window(machine, std::chrono::hours{24 * 7}, shape);

        auto first = fx.run({"sync"});
        INFO(first.err);
        REQUIRE(first.exit_code == 0);
        check_mirror_exact(fx.server(), fx.db(), machine, machine_table);
        auto requests = requests_for(fx.server(), "/v1/machine-registrations");
        CHECK(refused(requests) >= 1);
        CHECK(!lines_with_event(first.err, "sync.window_split").empty());
        auto span =
            query_int(fx.db(), "SELECT window_span_s FROM sync_state WHERE stream = 'machine-registrations'");
        CHECK(span > 0);
        CHECK(span <= 7 * 86400);
        CHECK(span % 86400 == 0);

        // status shows it, in the stream's detail and in --json.
        auto text = fx.run({"status", machine});
        REQUIRE(text.exit_code == 0);
        CHECK(
            text.out.find(fmt::format("window pieces:         {} days", span / 86400)) != std::string::npos
        );
        auto js = fx.run({"status", "--json"});
        REQUIRE(js.exit_code == 0);
        auto report = json::parse(js.out);
        CHECK(report.at("streams").as_array().at(0).at("window_piece_days").as_int64() == span / 86400);

        // The next full sync starts with pieces of that size: not one request refused.
        fx.server().clear_requests();
        auto again = fx.run({"sync", "--full"});
        INFO(again.err);
        REQUIRE(again.exit_code == 0);
        check_mirror_exact(fx.server(), fx.db(), machine, machine_table);
        auto second = requests_for(fx.server(), "/v1/machine-registrations");
        REQUIRE(!second.empty());
        CHECK(refused(second) == 0);
        CHECK(window_days(second.front()) * 86400 == span);
        CHECK(lines_with_event(again.err, "sync.window_split").empty());

        // reset forgets it: the next full sync asks for the whole window again.
        REQUIRE(fx.run({"reset", machine}).exit_code == 0);
        CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_state WHERE window_span_s IS NOT NULL") == 0);
    }
}

TEST_CASE("e2e: a refusal that is not about the window fails at one day with Ditio's message, run after run")
{
    fixture fx(machine_options());
    fx.server().seed_streams(50, 22, "2026-07-01", "2026-11-20");
    const std::string message = "CompanyId 7 is not a company of this client.";
    fx.server().inject(testing::fault{
        .what = testing::fault::kind::status,
        .path_suffix = "/v1/machine-registrations",
        .count = 1000,
        .status = 400,
        .body = fmt::format(R"({{"error":"ValidationError","message":"{}"}})", message)});

    std::size_t first_count = 0;
    for (int run = 1; run <= 2; ++run) {
        CAPTURE(run);
        fx.server().clear_requests();
        auto res = fx.run({"sync"});
        INFO(res.err);
        CHECK(res.exit_code == 1);
        auto requests = requests_for(fx.server(), "/v1/machine-registrations");
        REQUIRE(!requests.empty());
        CHECK(refused(requests) == requests.size());
        // Halved down to a day (about 188 days: 8 requests), never further, never again after.
        CHECK(requests.size() <= 12);
        CHECK(window_days(requests.back()) == 1);
        CHECK(window_days(requests.front()) > 100);
        CHECK(lines_with_event(res.err, "sync.window_split").size() == requests.size() - 1);
        auto finished = only_event(res.err, "sync.run_finished");
        CHECK(finished.at("status") == "failed");
        auto error = std::string(finished.at("error").as_string());
        CHECK(error.find(message) != std::string::npos);
        CHECK(error.find("one day") != std::string::npos);
        auto last_error =
            query_text(fx.db(), "SELECT last_error FROM sync_state WHERE stream = 'machine-registrations'");
        REQUIRE(last_error.has_value());
        CHECK(last_error->find(message) != std::string::npos);
        // Nothing worked, so nothing is remembered, and the run is dropped: the next starts afresh.
        CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_state WHERE window_span_s IS NOT NULL") == 0);
        CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_state WHERE run_id IS NOT NULL") == 0);
        if (run == 1)
            first_count = requests.size();
        else
            CHECK(requests.size() == first_count);
    }
}

TEST_CASE("e2e: an incremental run refused after downtime recovers through one full re-sync")
{
    for (const auto& [name, shape] : shapes) {
        CAPTURE(name);
        fixture fx(machine_options());
        fx.server().seed_streams(150, 23, "2026-07-01", "2026-11-20");
        REQUIRE(fx.run({"sync"}).exit_code == 0);

        // Ditio refuses a ModifiedSince more than 3 days back; the daemon was down for 5.
        fx.server().set_max_modified_since(machine, std::chrono::hours{72}, shape);
        downtime(fx, 5);
        auto old_watermark =
            query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'machine-registrations'");
        REQUIRE(old_watermark.has_value());
        auto gone = fx.server().pick_live(machine, 3, 5);
        fx.server().remove(machine, {gone[0]});
        fx.server().purge(machine, {gone[1], gone[2]});
        fx.server().edit(machine, fx.server().pick_live(machine, 4, 6));
        fx.server().insert(machine, 3);
        fx.server().clear_requests();

        auto res = fx.run({"sync"});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
        auto requests = requests_for(fx.server(), "/v1/machine-registrations");
        REQUIRE(requests.size() >= 2);
        CHECK(refused(requests) == 1);
        CHECK(requests.front().status == 400);
        CHECK(!param(requests.front(), "modifiedsince").empty());
        for (std::size_t i = 1; i < requests.size(); ++i)
            CHECK(param(requests[i], "modifiedsince").empty());
        auto event = only_event(res.err, "sync.incremental_refused");
        CHECK(event.at("status").as_int64() == 400);
        CHECK(
            std::string(event.at("modified_since").as_string()) == param(requests.front(), "modifiedsince")
        );
        CHECK(event.at("reason").as_string().starts_with("HTTP 400"));
        if (shape == refusal_shape::specific)
            CHECK(
                std::string(event.at("reason").as_string()).find("at most 3 days back") != std::string::npos
            );
        CHECK(only_event(res.err, "sync.run_finished").at("mode") == "full");

        // The mirror is exact, the deletions swept, and the watermark moved on.
        check_mirror_exact(fx.server(), fx.db(), machine, machine_table);
        for (const auto& id : gone)
            CHECK(
                query_int(
                    fx.db(), fmt::format("SELECT is_deleted FROM machine_registrations WHERE id = '{}'", id)
                ) == 1
            );
        auto watermark =
            query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'machine-registrations'");
        REQUIRE(watermark.has_value());
        CHECK(*watermark > *old_watermark);
        CHECK(query_text(fx.db(), "SELECT mode FROM sync_runs ORDER BY id DESC LIMIT 1") == "full");

        // The next run is incremental again, and accepted.
        fx.server().clear_requests();
        auto next = fx.run({"sync"});
        INFO(next.err);
        REQUIRE(next.exit_code == 0);
        auto after = requests_for(fx.server(), "/v1/machine-registrations");
        REQUIRE(!after.empty());
        CHECK(refused(after) == 0);
        CHECK(!param(after.front(), "modifiedsince").empty());
        CHECK(lines_with_event(next.err, "sync.incremental_refused").empty());
    }
}

TEST_CASE("e2e: a refused incremental run whose full re-sync fails too fails, and the next run asks again")
{
    fixture_options o;
    o.records = 0;
    o.settings["sync.streams"] = R"(["project"])";
    fixture fx(o);
    fx.server().seed_streams(20, 24);
    REQUIRE(fx.run({"sync"}).exit_code == 0);

    fx.server().inject(testing::fault{
        .what = testing::fault::kind::status,
        .path_suffix = "/v1/project",
        .count = 2,
        .status = 400,
        .body = ""});
    fx.server().clear_requests();
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 1);
    auto requests = requests_for(fx.server(), "/v1/project");
    REQUIRE(requests.size() == 2); // once incremental, once full: no more
    CHECK(!param(requests[0], "modifiedsince").empty());
    CHECK(param(requests[1], "modifiedsince").empty());
    CHECK(lines_with_event(res.err, "sync.incremental_refused").size() == 1);
    CHECK(only_event(res.err, "sync.run_finished").at("status") == "failed");

    fx.server().clear_requests();
    auto next = fx.run({"sync"});
    INFO(next.err);
    REQUIRE(next.exit_code == 0);
    auto after = requests_for(fx.server(), "/v1/project");
    REQUIRE(!after.empty());
    CHECK(!param(after.front(), "modifiedsince").empty());
    CHECK(refused(after) == 0);
}

TEST_CASE("e2e: max_incremental_age makes the run a full re-sync without asking Ditio")
{
    auto o = machine_options();
    o.settings["streams.\"machine-registrations\".max_incremental_age"] = R"("3d")";
    fixture fx(o);
    fx.server().seed_streams(120, 25, "2026-07-01", "2026-11-20");
    fx.server().set_max_modified_since(machine, std::chrono::hours{72}, refusal_shape::empty);
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    // Within the age: incremental, as usual.
    fx.server().clear_requests();
    auto recent = fx.run({"sync"});
    REQUIRE(recent.exit_code == 0);
    CHECK(lines_with_event(recent.err, "sync.incremental_skipped").empty());
    CHECK(!param(requests_for(fx.server(), "/v1/machine-registrations").front(), "modifiedsince").empty());

    downtime(fx, 4);
    auto gone = fx.server().pick_live(machine, 2, 7);
    fx.server().purge(machine, gone);
    fx.server().clear_requests();
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto requests = requests_for(fx.server(), "/v1/machine-registrations");
    REQUIRE(!requests.empty());
    CHECK(refused(requests) == 0);
    for (const auto& r : requests)
        CHECK(param(r, "modifiedsince").empty());
    auto event = only_event(res.err, "sync.incremental_skipped");
    CHECK(event.at("max_incremental_age") == "3d");
    CHECK(event.at("next") == "full re-sync");
    CHECK(lines_with_event(res.err, "sync.incremental_refused").empty());
    check_mirror_exact(fx.server(), fx.db(), machine, machine_table);
    for (const auto& id : gone)
        CHECK(
            query_int(
                fx.db(), fmt::format("SELECT is_deleted FROM machine_registrations WHERE id = '{}'", id)
            ) == 1
        );

    // The watermark moved on: the next run is incremental again.
    fx.server().clear_requests();
    auto next = fx.run({"sync"});
    REQUIRE(next.exit_code == 0);
    CHECK(lines_with_event(next.err, "sync.incremental_skipped").empty());
    auto after = requests_for(fx.server(), "/v1/machine-registrations");
    REQUIRE(!after.empty());
    CHECK(!param(after.front(), "modifiedsince").empty());
    CHECK(refused(after) == 0);
}

TEST_SUITE_END();

// Unit tests for sync/run_plan.hpp (a run's fixed parameters and its window pieces) and sync/run_failure.hpp
// (what a run does when a page could not be fetched).
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/sync/run_failure.hpp>
#include <ditio_sync/sync/run_plan.hpp>
#include <ditio_sync/util/time.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono_literals;
namespace ds = ditio_sync::sync;
using ditio_sync::ditio::fetch_errc;
using ditio_sync::ditio::fetch_failure;

ditio_sync::util::sys_micros at(const char* iso)
{
    return *ditio_sync::util::parse_iso8601(iso);
}

ds::stream_settings settings_of(const char* stream)
{
    ds::stream_settings s;
    s.def = ditio_sync::ditio::find_stream(stream);
    REQUIRE(s.def);
    s.chunk_limit = 500;
    s.full_from = "2026-01-01";
    s.full_ahead = std::chrono::hours{24 * 30};
    s.params = {{"CompanyId", "c1"}};
    return s;
}

} // namespace

TEST_SUITE_BEGIN("sync");

TEST_CASE("run_plan: a full run of a windowed stream walks full_from .. start + full_ahead")
{
    auto p = ds::plan_full(settings_of("time-registrations"), at("2026-12-05T10:20:30.456Z"), true);
    CHECK(p.mode == ds::run_mode::full);
    CHECK(p.started_empty);
    CHECK(p.windowed());
    CHECK(p.window_from == "2026-01-01");
    CHECK(p.window_to == "2027-01-04T10:20:30Z");
    CHECK(p.param("FromDateTime") == "2026-01-01");
    CHECK(p.param("ToDateTime") == "2027-01-04T10:20:30Z");
    CHECK(p.param("CompanyId") == "c1");
    CHECK(p.param("ChunkLimit") == "500");
    CHECK_FALSE(p.next_piece()); // one piece: the whole window

    // Metadata has no window: no FromDateTime at all.
    auto meta = ds::plan_full(settings_of("project"), at("2026-12-05T10:20:30Z"), false);
    CHECK_FALSE(meta.windowed());
    CHECK(meta.param("FromDateTime").empty());
    CHECK(meta.param("ChunkLimit") == "500");
}

TEST_CASE("run_plan: an incremental run asks for changes since the watermark minus the overlap")
{
    auto p = ds::plan_incremental(settings_of("time-registrations"), at("2026-12-05T10:00:00Z"), 10min);
    CHECK(p.mode == ds::run_mode::incremental);
    CHECK_FALSE(p.windowed());
    CHECK(p.param("ModifiedSince") == "2026-12-05T09:50:00.000Z");
    CHECK(p.query.front().first == "ModifiedSince");
    CHECK(p.query.back() == std::pair<std::string, std::string>{"ChunkLimit", "500"});
}

TEST_CASE("run_plan: max_window cuts the window into whole-day pieces that share their boundaries")
{
    auto s = settings_of("machine-registrations");
    s.full_from = "2026-06-01";
    s.full_ahead = 0ms;
    s.max_window = std::chrono::hours{24 * 7};
    auto p = ds::plan_full(s, at("2026-06-20T12:00:00Z"), false);
    CHECK(p.max_span_s == 7 * 86400);
    CHECK(p.param("FromDateTime") == "2026-06-01");
    CHECK(p.param("ToDateTime") == "2026-06-08T00:00:00Z");
    REQUIRE(p.next_piece());
    CHECK(p.param("FromDateTime") == "2026-06-08T00:00:00Z");
    CHECK(p.param("ToDateTime") == "2026-06-15T00:00:00Z");
    REQUIRE(p.next_piece());
    CHECK(p.param("ToDateTime") == "2026-06-20T12:00:00Z"); // clipped to the window's end
    CHECK_FALSE(p.next_piece());
}

TEST_CASE("run_plan: split halves the piece in progress down to a day, and the plan round-trips as JSON")
{
    auto s = settings_of("machine-registrations");
    s.full_from = "2026-06-01";
    s.full_ahead = 0ms;
    auto p = ds::plan_full(s, at("2026-06-21T00:00:00Z"), false);
    REQUIRE(p.can_split());
    REQUIRE(p.split());
    CHECK(p.max_span_s == 10 * 86400);
    CHECK(p.param("ToDateTime") == "2026-06-11T00:00:00Z");
    int splits = 1;
    while (p.split())
        ++splits;
    CHECK(splits == 4); // 20 -> 10 -> 5 -> 2 -> 1 day
    CHECK(p.max_span_s == 86400);
    CHECK_FALSE(p.can_split());

    auto back = ds::run_plan::from_json(p.to_json());
    REQUIRE(back);
    CHECK(back->mode == p.mode);
    CHECK(back->query == p.query);
    CHECK(back->window_from == p.window_from);
    CHECK(back->window_to == p.window_to);
    CHECK(back->max_span_s == p.max_span_s);
    CHECK(back->started_empty == p.started_empty);

    CHECK_FALSE(ds::run_plan::from_json("not json"));
    CHECK_FALSE(ds::run_plan::from_json(R"({"mode":"sideways","query":[]})"));
    CHECK_FALSE(ds::run_plan::from_json(R"({"mode":"full","query":[["a"]]})"));
}

TEST_CASE("run_failure: every failure leads to one next step")
{
    using action = ds::failure_decision::action;
    const std::string window = "The date range between FromDateTime and ToDateTime can be at most 7 days.";
    struct row {
        const char* what;
        fetch_failure f;
        ds::run_position at;
        action expect;
        ds::run_status status = ds::run_status::failed;
        bool abandon = false;
    };
    const ds::run_position first_page{false, true, false, 0};
    const ds::run_position mid_run{true, false, true, 0};
    const std::vector<row> rows{
        {"a rejected token restarts", {fetch_errc::token_rejected, "expired", 400}, mid_run, action::restart},
        {"twice at most",
         {fetch_errc::token_rejected, "expired", 400},
         {true, false, true, ds::max_restarts},
         action::fail},
        {"a window too large is split", {fetch_errc::bad_request, window, 400}, first_page, action::split},
        {"unless it is a day already",
         {fetch_errc::bad_request, window, 400},
         {false, false, false, 0},
         action::fail,
         ds::run_status::failed,
         true},
        {"another 400 on the first page drops the run",
         {fetch_errc::bad_request, "CompanyId is not valid", 400},
         first_page,
         action::fail,
         ds::run_status::failed,
         true},
        {"404 before anything was read: unavailable",
         {fetch_errc::bad_request, "not found", 404},
         first_page,
         action::unavailable},
        {"404 later: a failure, the checkpoint kept",
         {fetch_errc::bad_request, "not found", 404},
         mid_run,
         action::fail},
        {"404 of a resumed run: a failure",
         {fetch_errc::bad_request, "not found", 404},
         {false, false, true, 0},
         action::fail},
        {"auth refused",
         {fetch_errc::auth_refused, "401", 401},
         mid_run,
         action::fail,
         ds::run_status::auth_refused},
        {"403",
         {fetch_errc::auth_refused, "403", 403},
         first_page,
         action::fail,
         ds::run_status::auth_refused},
        {"cancelled",
         {fetch_errc::cancelled, "stopped", 0},
         mid_run,
         action::fail,
         ds::run_status::cancelled},
        {"unavailable after retries", {fetch_errc::unavailable, "gave up", 503}, mid_run, action::fail},
        {"misconfigured TLS", {fetch_errc::misconfigured, "certificate", 0}, first_page, action::fail},
    };
    for (const auto& r : rows) {
        CAPTURE(r.what);
        auto d = ds::after_failure(r.f, r.at);
        CHECK(d.what == r.expect);
        if (r.expect == action::fail) {
            CHECK(d.status == r.status);
            CHECK((d.checkpoint == ditio_sync::store::run_checkpoint::drop) == r.abandon);
        }
    }
    CHECK(ds::about_the_window("ToDateTime must not be later than 7 days after FromDateTime"));
    CHECK(ds::about_the_window("The PERIOD is too long"));
    CHECK_FALSE(ds::about_the_window("CompanyId is not valid"));
}

TEST_SUITE_END();

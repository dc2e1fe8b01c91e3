// Unit tests for sync/run_plan.hpp (a run's fixed parameters and its window pieces) and sync/run_failure.hpp
// (what a run does when a page could not be fetched).
#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/sync/run_failure.hpp>
#include <ditio_sync/sync/run_plan.hpp>
#include <ditio_sync/util/time.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

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
    const ds::run_position first_page{.windowed = true, .can_split = true};
    const ds::run_position mid_run{.sent_token = true, .read_anything = true};
    const std::vector<row> rows{
        {"a rejected token restarts", {fetch_errc::token_rejected, "expired", 400}, mid_run, action::restart},
        {"twice at most",
         {fetch_errc::token_rejected, "expired", 400},
         {.sent_token = true, .read_anything = true, .restarts = ds::max_restarts},
         action::fail},
        {"a window too large is split", {fetch_errc::bad_request, window, 400}, first_page, action::split},
        {"unless it is a day already",
         {fetch_errc::bad_request, window, 400},
         {.windowed = true},
         action::fail,
         ds::run_status::failed,
         true},
        {"another 400 on the first page of a piece splits it too: the words are not read",
         {fetch_errc::bad_request, "CompanyId is not valid", 400},
         first_page,
         action::split},
        {"another 400 on the first page of a run without a window drops the run",
         {fetch_errc::bad_request, "CompanyId is not valid", 400},
         {},
         action::fail,
         ds::run_status::failed,
         true},
        {"another 4xx drops the run",
         {fetch_errc::bad_request, "gone", 410},
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
         {.read_anything = true},
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
}

namespace {

// Each shape Ditio's sources allow for a 400, as the extraction client turns it into a failure.
std::vector<std::pair<const char*, fetch_failure>> refusals_in_every_shape()
{
    using ditio_sync::ditio::describe_error_body;
    std::vector<std::pair<const char*, fetch_failure>> out;
    for (auto [shape, body] : std::initializer_list<std::pair<const char*, const char*>>{
             {"simple JSON",
              R"({"error":"ValidationError","message":"ToDateTime can be at most 7 days after FromDateTime."})"},
             {"problem+json",
              R"({"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more )"
              R"(validation errors occurred.","status":400,"errors":{"request":["The request is invalid."]}})"},
             {"empty", ""},
         })
        out.emplace_back(shape, fetch_failure{fetch_errc::bad_request, describe_error_body(400, body), 400});
    return out;
}

} // namespace

TEST_CASE("run_failure: a 400 on the first page of a window piece splits it, whatever its body")
{
    using action = ds::failure_decision::action;
    for (const auto& [shape, f] : refusals_in_every_shape()) {
        CAPTURE(shape);
        CAPTURE(f.message);
        CHECK(ds::after_failure(f, {.windowed = true, .can_split = true}).what == action::split);
        // Later in a piece (a token sent) a 400 is a rejected token, never a split.
        CHECK(
            ds::after_failure(
                f, {.sent_token = true, .windowed = true, .can_split = true, .read_anything = true}
            )
                .what == action::fail
        );
    }
}

TEST_CASE("run_failure: a window refused at one day fails the run with Ditio's message and drops it")
{
    using action = ds::failure_decision::action;
    for (const auto& [shape, f] : refusals_in_every_shape()) {
        CAPTURE(shape);
        auto d = ds::after_failure(f, {.windowed = true, .can_split = false});
        CHECK(d.what == action::fail);
        CHECK(d.status == ds::run_status::failed);
        CHECK(d.refused_at_one_day);
        CHECK(d.checkpoint == ditio_sync::store::run_checkpoint::drop); // the next run starts afresh
        // Not a window at all: a plain failure.
        CHECK_FALSE(ds::after_failure(f, {}).refused_at_one_day);
    }
    // Down to a day the halving goes, and no further: a refusal about something else ends.
    auto s = settings_of("machine-registrations");
    s.full_from = "2024-01-01";
    s.full_ahead = 366 * 24h;
    auto p = ds::plan_full(s, at("2026-06-21T00:00:00Z"), false);
    int refusals = 0;
    for (;;) {
        ++refusals;
        auto d = ds::after_failure(
            refusals_in_every_shape().front().second, {.windowed = p.windowed(), .can_split = p.can_split()}
        );
        if (d.what != action::split) {
            CHECK(d.refused_at_one_day);
            break;
        }
        REQUIRE(p.split());
        REQUIRE(refusals < 20);
    }
    CHECK(p.max_span_s == 86400);
    CHECK(refusals == 11); // 1268 days: 634, 317, 158, 79, 39, 19, 9, 4, 2, 1, then the failure
}

TEST_CASE("run_failure: an incremental run refused on its first page becomes a full re-sync, once")
{
    using action = ds::failure_decision::action;
    for (const auto& [shape, f] : refusals_in_every_shape()) {
        CAPTURE(shape);
        CHECK(ds::after_failure(f, {.incremental = true}).what == action::resync);
        // Not once something was read, nor for a resumed run: the run fails and starts afresh next time.
        auto later = ds::after_failure(f, {.incremental = true, .read_anything = true});
        CHECK(later.what == action::fail);
        CHECK(later.checkpoint == ditio_sync::store::run_checkpoint::drop);
        // The full re-sync it became is no incremental run: refused, it fails (without a window) or splits.
        CHECK(ds::after_failure(f, {}).what == action::fail);
        CHECK(ds::after_failure(f, {.windowed = true, .can_split = true}).what == action::split);
    }
    // A rejected continuation token of an incremental run restarts it as before.
    CHECK(
        ds::after_failure(
            {fetch_errc::token_rejected, "HTTP 400", 400}, {.sent_token = true, .incremental = true}
        )
            .what == action::restart
    );
    // Other refusals are no reason to read everything again.
    CHECK(
        ds::after_failure({fetch_errc::bad_request, "HTTP 404", 404}, {.incremental = true}).what ==
        action::unavailable
    );
    CHECK(
        ds::after_failure({fetch_errc::bad_request, "HTTP 410", 410}, {.incremental = true}).what ==
        action::fail
    );
    CHECK(
        ds::after_failure({fetch_errc::auth_refused, "HTTP 403", 403}, {.incremental = true}).what ==
        action::fail
    );
    CHECK(
        ds::after_failure({fetch_errc::unavailable, "HTTP 503", 503}, {.incremental = true}).what ==
        action::fail
    );
}

TEST_CASE("run_plan: a full run starts from the remembered piece size, which the plan carries")
{
    auto s = settings_of("machine-registrations");
    s.full_from = "2026-06-01";
    s.full_ahead = 0ms;
    auto p = ds::plan_full(s, at("2026-06-21T00:00:00Z"), false, 3 * 86400);
    CHECK(p.span_learned);
    CHECK(p.max_span_s == 3 * 86400);
    CHECK(p.param("ToDateTime") == "2026-06-04T00:00:00Z");
    p.replaces_incremental = true;
    auto back = ds::run_plan::from_json(p.to_json());
    REQUIRE(back);
    CHECK(back->span_learned);
    CHECK(back->replaces_incremental);
    CHECK(back->max_span_s == 3 * 86400);

    // A smaller max_window wins, and is no learned size; so does the whole window without either.
    s.max_window = 24h * 2;
    auto configured = ds::plan_full(s, at("2026-06-21T00:00:00Z"), false, 3 * 86400);
    CHECK(configured.max_span_s == 2 * 86400);
    CHECK_FALSE(configured.span_learned);
    s.max_window.reset();
    auto whole = ds::plan_full(s, at("2026-06-21T00:00:00Z"), false);
    CHECK(whole.max_span_s == 0);
    CHECK_FALSE(whole.span_learned);
    // A split learns; a plan saved by an older version learned nothing.
    REQUIRE(whole.split());
    CHECK(whole.span_learned);
    auto old = ds::run_plan::from_json(R"({"mode":"full","query":[],"max_span_s":86400})");
    REQUIRE(old);
    CHECK_FALSE(old->span_learned);
    CHECK_FALSE(old->replaces_incremental);
    // Anything but whole days is not a size this version saved.
    CHECK_FALSE(ds::plan_full(s, at("2026-06-21T00:00:00Z"), false, 5000).span_learned);
    // Metadata has no window to cut.
    CHECK_FALSE(ds::plan_full(settings_of("project"), at("2026-06-21T00:00:00Z"), false, 86400).span_learned);
}

TEST_CASE("run_plan: max_incremental_age counts from the ModifiedSince a run would send")
{
    auto s = settings_of("machine-registrations");
    auto now = at("2026-06-10T12:00:00Z");
    CHECK_FALSE(ds::beyond_incremental_age(s, at("2020-01-01T00:00:00Z"), 10min, now)); // unset: never
    s.max_incremental_age = 72h;
    CHECK_FALSE(ds::beyond_incremental_age(s, at("2026-06-07T12:10:00Z"), 10min, now)); // exactly 3 days
    CHECK(ds::beyond_incremental_age(s, at("2026-06-07T12:09:59Z"), 10min, now));
    CHECK(ds::beyond_incremental_age(s, at("2026-06-01T00:00:00Z"), 10min, now));
}

TEST_SUITE_END();

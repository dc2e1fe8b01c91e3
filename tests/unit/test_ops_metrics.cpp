// ops::metrics (Prometheus exposition, health rules with injected times) and ops::ops_server over a real
// loopback socket (/metrics, /healthz, 404, 405, limits, bind refusals).
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/ops/ops_server.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <support/run_io.hpp>
#include <vector>

using namespace ditio_sync;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using sys_clock = std::chrono::system_clock;

namespace {

using ditio_sync::testing::run_io;

// 2026-01-01T00:00:00Z
const sys_clock::time_point t0 = sys_clock::time_point{} + std::chrono::seconds{1'767'225'600};

sync::page_progress page(std::string_view stream, std::int64_t upserted, std::int64_t deleted)
{
    sync::page_progress p;
    p.stream = stream;
    p.records = upserted + deleted;
    p.upserted = upserted;
    p.deleted = deleted;
    return p;
}

sync::run_outcome outcome(std::string_view stream, std::string_view status)
{
    sync::run_outcome r;
    r.stream = stream;
    r.mode = sync::run_mode::incremental;
    auto named = std::find_if(
        std::begin(sync::all_run_statuses),
        std::end(sync::all_run_statuses),
        [&](sync::run_status s) { return to_string(s) == status; }
    );
    REQUIRE(named != std::end(sync::all_run_statuses));
    r.status = *named;
    return r;
}

// One complete run of `pages` pages of `rows` upserts each, reported as the engine does.
void ok_run(
    ops::metrics& m,
    std::string_view stream,
    sys_clock::time_point finished,
    std::optional<sys_clock::time_point> watermark = std::nullopt,
    int pages = 1,
    std::int64_t rows = 10
)
{
    m.run_started(stream, sync::run_mode::incremental);
    for (int i = 0; i < pages; ++i)
        m.page_committed(page(stream, rows, 0));
    auto r = outcome(stream, "ok");
    r.pages = pages;
    r.upserted = rows * pages;
    r.duration = 1500ms;
    r.succeeded_at = finished;
    r.watermark = watermark;
    m.run_finished(r);
}

// The value of the sample whose name and labels are exactly `series`, or nullopt when absent.
std::optional<std::string> sample(const std::string& text, std::string_view series)
{
    std::istringstream in(text);
    std::string line;
    std::optional<std::string> found;
    while (std::getline(in, line)) {
        if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
            REQUIRE_FALSE(found.has_value()); // one sample per series
            found = line.substr(series.size() + 1);
        }
    }
    return found;
}

// The exposition without the resident memory sample, which changes between two renders.
std::string without_rss(const std::string& text)
{
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line))
        if (!line.starts_with("process_resident_memory_bytes "))
            out += line + "\n";
    return out;
}

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

json::object health_json(const ops::health_report& h)
{
    return json::parse(h.json).as_object();
}

// The entry of `stream` in a /healthz body.
json::object health_entry(const json::object& body, std::string_view stream)
{
    for (const auto& v : body.at("streams").as_array())
        if (v.as_object().at("stream").as_string() == stream)
            return v.as_object();
    FAIL("stream ", stream, " missing from ", json::serialize(body));
    return {};
}

std::string state_of(const ops::metrics& m, sys_clock::time_point now, std::string_view stream)
{
    return std::string(health_entry(health_json(m.check_health(now)), stream).at("state").as_string());
}

// Checks the text against the exposition format 0.0.4 rules the daemon relies on: a HELP and a TYPE line
// once per family, before its samples, the samples of one family together, names with the ditio_sync_ or
// process_ prefix, counters ending in _total, numeric values, and a final line feed.
void check_exposition(const std::string& text)
{
    REQUIRE_FALSE(text.empty());
    CHECK(text.back() == '\n');
    std::set<std::string> helped, typed, finished;
    std::string current;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        CAPTURE(line);
        if (line.starts_with("# HELP ")) {
            auto name = line.substr(7, line.find(' ', 7) - 7);
            CHECK(helped.insert(name).second);
            CHECK(line.size() > 7 + name.size() + 1); // a non-empty help text
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            auto rest = line.substr(7);
            auto name = rest.substr(0, rest.find(' '));
            auto type = rest.substr(name.size() + 1);
            CHECK(helped.count(name) == 1);
            CHECK(typed.insert(name).second);
            CHECK((type == "counter" || type == "gauge"));
            if (type == "counter")
                CHECK(name.ends_with("_total"));
            if (!current.empty())
                finished.insert(current);
            current = name;
            continue;
        }
        REQUIRE_FALSE(line.starts_with("#"));
        auto name = line.substr(0, line.find_first_of("{ "));
        CHECK((name.starts_with("ditio_sync_") || name.starts_with("process_")));
        CHECK(name == current); // after its own TYPE line, with the other samples of its family
        CHECK(finished.count(name) == 0);
        auto value = line.substr(line.rfind(' ') + 1);
        char* end = nullptr;
        std::strtod(value.c_str(), &end);
        CHECK(end == value.c_str() + value.size());
        CHECK_FALSE(value.empty());
    }
    CHECK(helped == typed);
}

// --- a plain Beast client ---

struct reply {
    unsigned status = 0;
    std::string content_type;
    std::string content_length;
    std::string allow;
    std::string body;
    bool keep_alive = false;
};

asio::awaitable<reply>
exchange(beast::tcp_stream& stream, bhttp::verb method, std::string_view target, std::string padding = {})
{
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!padding.empty())
        req.set("X-Padding", padding);
    req.prepare_payload();
    stream.expires_after(5s);
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(method == bhttp::verb::head);
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    const auto& res = parser.get();
    reply out;
    out.status = res.result_int();
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.content_length = std::string(res[bhttp::field::content_length]);
    out.allow = std::string(res[bhttp::field::allow]);
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    co_return out;
}

asio::awaitable<beast::tcp_stream> connect(tcp::endpoint ep)
{
    beast::tcp_stream stream{co_await asio::this_coro::executor};
    stream.expires_after(5s);
    co_await stream.async_connect(ep, asio::use_awaitable);
    co_return stream;
}

asio::awaitable<reply>
fetch(tcp::endpoint ep, bhttp::verb method, std::string target, std::string padding = {})
{
    auto stream = co_await connect(ep);
    co_return co_await exchange(stream, method, target, std::move(padding));
}

// Reads until the server closes; the bytes it sent before closing.
asio::awaitable<std::string> read_until_closed(beast::tcp_stream& stream)
{
    std::string got;
    std::array<char, 1024> buf{};
    stream.expires_after(5s);
    for (;;) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), util::use_nothrow);
        got.append(buf.data(), n);
        if (ec == beast::error::timeout)
            throw std::runtime_error("the server did not close the connection");
        if (ec)
            co_return got;
    }
}

// A server on 127.0.0.1:<free port> over `m`, with a clock the test moves.
struct server_fixture {
    asio::io_context io;
    ops::metrics m{t0};
    sys_clock::time_point now = t0;
    ops::ops_server server;
    tcp::endpoint ep;

    explicit server_fixture(ops::ops_server_limits limits = {})
        : server(
              io.get_executor(), "127.0.0.1:0", false, m, [this] { return now; }, nullptr, limits
          )
    {
        server.start();
        ep = server.local_endpoint();
    }
};

std::string start_error(std::string listen, bool allow_remote)
{
    asio::io_context io;
    ops::metrics m{t0};
    ops::ops_server server(
        io.get_executor(), std::move(listen), allow_remote, m, [] { return t0; }, nullptr
    );
    try {
        server.start();
    } catch (const config::config_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_SUITE_BEGIN("ops");

TEST_CASE("metrics: the exposition has HELP and TYPE lines, ditio_sync_up and the build version")
{
    ops::metrics m{t0};
    m.set_streams({{"time-registrations", 1h}, {"project", 1h}}, t0);
    ok_run(m, "time-registrations", t0 + 1min, t0);
    m.http_response(200);
    m.http_response(0);
    m.token_refreshed();
    m.retry("project");
    auto text = m.render_prometheus(t0 + 2min);
    check_exposition(text);
    CHECK(sample(text, "ditio_sync_up") == "1");
    CHECK(sample(text, fmt::format("ditio_sync_build_info{{version=\"{}\"}}", DITIO_SYNC_VERSION)) == "1");
    CHECK(contains(text, "# TYPE ditio_sync_rows_upserted_total counter\n"));
    CHECK(contains(text, "# TYPE ditio_sync_watermark_age_seconds gauge\n"));
    CHECK(contains(text, "# TYPE ditio_sync_runs_total counter\n"));
    CHECK(contains(text, "# HELP ditio_sync_runs_total "));
    // A family without samples is left out entirely, HELP and TYPE included.
    ops::metrics empty{t0};
    auto bare = empty.render_prometheus(t0);
    check_exposition(bare);
    CHECK_FALSE(contains(bare, "ditio_sync_last_success_timestamp_seconds"));
    CHECK_FALSE(contains(bare, "ditio_sync_http_responses_total"));
    CHECK(sample(bare, "ditio_sync_token_refreshes_total") == "0");
}

TEST_CASE("metrics: a stream label escapes quotes, backslashes and line feeds")
{
    ops::metrics m{t0};
    std::string odd = "we\"ird\\name\nx";
    ok_run(m, odd, t0);
    auto text = m.render_prometheus(t0);
    check_exposition(text);
    CHECK(sample(text, R"(ditio_sync_pages_total{stream="we\"ird\\name\nx"})") == "1");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="we\"ird\\name\nx",result="ok"})") == "1");
    CHECK_FALSE(contains(text, odd));
}

TEST_CASE("metrics: counters accumulate across runs and runs are counted by result")
{
    ops::metrics m{t0};
    ok_run(m, "user", t0, std::nullopt, 2, 100);
    ok_run(m, "user", t0 + 1h, std::nullopt, 3, 5);

    // A failed run after one page with tombstones.
    m.run_started("user", sync::run_mode::incremental);
    m.page_committed(page("user", 7, 4));
    auto failed = outcome("user", "failed");
    failed.pages = 1;
    failed.upserted = 7;
    failed.deleted = 4;
    m.run_finished(failed);

    // A full re-sync whose last page also swept rows beyond its tombstones.
    m.run_started("user", sync::run_mode::full);
    auto last = page("user", 20, 1);
    last.swept = 30;
    m.page_committed(last);
    auto swept = outcome("user", "ok");
    swept.mode = sync::run_mode::full;
    swept.pages = 1;
    swept.upserted = 20;
    swept.deleted = 1 + 30;
    m.run_finished(swept);

    m.run_finished(outcome("project", "unavailable"));
    m.run_finished(outcome("project", "cancelled"));
    m.run_finished(outcome("project", "cancelled"));

    auto text = m.render_prometheus(t0 + 2h);
    check_exposition(text);
    CHECK(sample(text, R"(ditio_sync_rows_upserted_total{stream="user"})") == "242"); // 200 + 15 + 7 + 20
    CHECK(sample(text, R"(ditio_sync_rows_deleted_total{stream="user"})") == "35");   // 4 + 31
    CHECK(sample(text, R"(ditio_sync_pages_total{stream="user"})") == "7");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="user",result="ok"})") == "3");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="user",result="failed"})") == "1");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="user",result="auth_refused"})") == "0");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="project",result="cancelled"})") == "2");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="project",result="unavailable"})") == "1");
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="project",result="ok"})") == "0");
    CHECK(sample(text, R"(ditio_sync_rows_upserted_total{stream="project"})") == "0");
}

TEST_CASE("metrics: a run in progress is a gauge and page counters move before the run ends")
{
    ops::metrics m{t0};
    m.run_started("resource", sync::run_mode::full);
    m.page_committed(page("resource", 50, 0));
    auto text = m.render_prometheus(t0);
    CHECK(sample(text, R"(ditio_sync_run_in_progress{stream="resource"})") == "1");
    CHECK(sample(text, R"(ditio_sync_rows_upserted_total{stream="resource"})") == "50");
    auto r = outcome("resource", "ok");
    r.pages = 1;
    r.upserted = 50;
    m.run_finished(r);
    text = m.render_prometheus(t0);
    CHECK(sample(text, R"(ditio_sync_run_in_progress{stream="resource"})") == "0");
    CHECK(sample(text, R"(ditio_sync_rows_upserted_total{stream="resource"})") == "50"); // not counted twice
}

TEST_CASE("metrics: last success, watermark age and run duration come from the injected times")
{
    ops::metrics m{t0};
    m.set_streams({{"time-registrations", 1h}}, t0);
    auto before = m.render_prometheus(t0);
    CHECK_FALSE(contains(before, "ditio_sync_last_success_timestamp_seconds{"));
    CHECK_FALSE(contains(before, "ditio_sync_watermark_age_seconds{"));
    CHECK_FALSE(contains(before, "ditio_sync_last_run_duration_seconds{"));

    ok_run(m, "time-registrations", t0 + 250ms, t0 - 10s);
    auto text = m.render_prometheus(t0 + 80s);
    CHECK(
        sample(text, R"(ditio_sync_last_success_timestamp_seconds{stream="time-registrations"})") ==
        "1767225600.250"
    );
    CHECK(sample(text, R"(ditio_sync_watermark_age_seconds{stream="time-registrations"})") == "90.000");
    CHECK(sample(text, R"(ditio_sync_last_run_duration_seconds{stream="time-registrations"})") == "1.500");
    // The age follows `now`; the timestamp does not.
    text = m.render_prometheus(t0 + 1h);
    CHECK(sample(text, R"(ditio_sync_watermark_age_seconds{stream="time-registrations"})") == "3610.000");
    CHECK(
        sample(text, R"(ditio_sync_last_success_timestamp_seconds{stream="time-registrations"})") ==
        "1767225600.250"
    );

    // A failed run changes the duration but neither the last success nor the watermark.
    m.run_started("time-registrations", sync::run_mode::incremental);
    auto failed = outcome("time-registrations", "failed");
    failed.duration = 42ms;
    m.run_finished(failed);
    text = m.render_prometheus(t0 + 1h);
    CHECK(sample(text, R"(ditio_sync_last_run_duration_seconds{stream="time-registrations"})") == "0.042");
    CHECK(
        sample(text, R"(ditio_sync_last_success_timestamp_seconds{stream="time-registrations"})") ==
        "1767225600.250"
    );
    CHECK(sample(text, R"(ditio_sync_watermark_age_seconds{stream="time-registrations"})") == "3610.000");
}

TEST_CASE("metrics: seeded state from the database shows before the first run and never goes back")
{
    ops::metrics m{t0};
    m.seed("project", t0 - 2h, t0 - 3h, false);
    auto text = m.render_prometheus(t0);
    CHECK(sample(text, R"(ditio_sync_last_success_timestamp_seconds{stream="project"})") == "1767218400.000");
    CHECK(sample(text, R"(ditio_sync_watermark_age_seconds{stream="project"})") == "10800.000");
    ok_run(m, "project", t0, t0 - 1min);
    m.seed("project", t0 - 5h, t0 - 5h, false); // older than what the run recorded
    text = m.render_prometheus(t0);
    CHECK(sample(text, R"(ditio_sync_last_success_timestamp_seconds{stream="project"})") == "1767225600.000");
    CHECK(sample(text, R"(ditio_sync_watermark_age_seconds{stream="project"})") == "60.000");
}

TEST_CASE("metrics: HTTP responses by status, token refreshes and retries by stream")
{
    ops::metrics m{t0};
    m.http_response(200);
    m.http_response(200);
    m.http_response(503);
    m.http_response(0);
    m.token_refreshed();
    m.token_refreshed();
    m.retry("user");
    m.retry("user");
    m.retry("project");
    auto text = m.render_prometheus(t0);
    check_exposition(text);
    CHECK(sample(text, R"(ditio_sync_http_responses_total{status="200"})") == "2");
    CHECK(sample(text, R"(ditio_sync_http_responses_total{status="503"})") == "1");
    CHECK(sample(text, R"(ditio_sync_http_responses_total{status="error"})") == "1");
    CHECK_FALSE(sample(text, R"(ditio_sync_http_responses_total{status="0"})").has_value());
    CHECK(sample(text, "ditio_sync_token_refreshes_total") == "2");
    CHECK(sample(text, R"(ditio_sync_retries_total{stream="user"})") == "2");
    CHECK(sample(text, R"(ditio_sync_retries_total{stream="project"})") == "1");
}

TEST_CASE("metrics: resident memory from /proc is positive and the start time is the given one")
{
    auto rss = ops::resident_memory_bytes();
    REQUIRE(rss.has_value());
    CHECK(*rss > 1024 * 1024); // a process linking Asio, OpenSSL and SQLite uses more than 1 MiB
    ops::metrics m{t0 + 1500ms};
    auto text = m.render_prometheus(t0 + 1h);
    auto value = sample(text, "process_resident_memory_bytes");
    REQUIRE(value.has_value());
    CHECK(std::stoll(*value) > 1024 * 1024);
    CHECK(std::stoll(*value) % 1024 == 0); // VmRSS is in KiB
    CHECK(sample(text, "process_start_time_seconds") == "1767225601.500");
}

TEST_CASE("metrics: health is pending, then never, fresh, stale, and unavailable streams never fail it")
{
    ops::metrics m{t0};
    m.set_streams({{"time-registrations", 1h}, {"user", 3h}, {"images", 1h}}, t0);

    SUBCASE("streams that never succeeded are pending for max_age after they were enabled, then never")
    {
        auto h = m.check_health(t0 + 59min);
        CHECK(h.ok);
        auto body = health_json(h);
        CHECK(body.at("status") == "ok");
        CHECK(body.at("streams").as_array().size() == 3);
        auto entry = health_entry(body, "time-registrations");
        CHECK(entry.at("state") == "pending");
        CHECK(entry.at("last_success_at").is_null());
        CHECK(entry.at("age_s").is_null());
        CHECK(entry.at("max_age_s") == 3600);

        h = m.check_health(t0 + 1h);
        CHECK_FALSE(h.ok);
        body = health_json(h);
        CHECK(body.at("status") == "stale");
        CHECK(health_entry(body, "time-registrations").at("state") == "never");
        CHECK(health_entry(body, "images").at("state") == "never");
        CHECK(health_entry(body, "user").at("state") == "pending"); // its own, longer bound
        auto text = m.render_prometheus(t0 + 1h);
        CHECK(sample(text, R"(ditio_sync_stream_stale{stream="time-registrations"})") == "1");
        CHECK(sample(text, R"(ditio_sync_stream_stale{stream="user"})") == "0");
    }
    SUBCASE("a success is fresh until it is max_age old, then stale until the next one")
    {
        ok_run(m, "time-registrations", t0 + 10min);
        ok_run(m, "user", t0 + 10min);
        ok_run(m, "images", t0 + 10min);
        auto h = m.check_health(t0 + 70min - 1s);
        CHECK(h.ok);
        auto entry = health_entry(health_json(h), "time-registrations");
        CHECK(entry.at("state") == "fresh");
        CHECK(entry.at("last_success_at") == "2026-01-01T00:10:00Z");
        CHECK(entry.at("age_s") == 3599);
        CHECK(entry.at("max_age_s") == 3600);

        h = m.check_health(t0 + 70min);
        CHECK_FALSE(h.ok);
        auto body = health_json(h);
        CHECK(body.at("status") == "stale");
        CHECK(health_entry(body, "time-registrations").at("state") == "stale");
        CHECK(health_entry(body, "time-registrations").at("age_s") == 3600);
        CHECK(health_entry(body, "user").at("state") == "fresh");
        CHECK(sample(m.render_prometheus(t0 + 70min), R"(ditio_sync_stream_stale{stream="images"})") == "1");

        // A failed run does not help; the next success does.
        m.run_finished(outcome("time-registrations", "failed"));
        m.run_finished(outcome("images", "failed"));
        CHECK_FALSE(m.check_health(t0 + 71min).ok);
        ok_run(m, "time-registrations", t0 + 71min);
        ok_run(m, "images", t0 + 71min);
        CHECK(m.check_health(t0 + 72min).ok);
        CHECK(state_of(m, t0 + 72min, "time-registrations") == "fresh");
    }
    SUBCASE("an unavailable stream is reported but does not fail the check, and a success clears it")
    {
        ok_run(m, "time-registrations", t0);
        ok_run(m, "user", t0);
        m.run_finished(outcome("images", "unavailable"));
        CHECK(m.check_health(t0 + 30min).ok);
        CHECK(state_of(m, t0 + 30min, "images") == "unavailable");
        CHECK(state_of(m, t0 + 5h, "images") == "unavailable");
        CHECK(
            sample(m.render_prometheus(t0 + 5h), R"(ditio_sync_stream_unavailable{stream="images"})") == "1"
        );
        CHECK(sample(m.render_prometheus(t0 + 5h), R"(ditio_sync_stream_stale{stream="images"})") == "0");

        ok_run(m, "images", t0 + 5h);
        CHECK(state_of(m, t0 + 5h, "images") == "fresh");
        CHECK(
            sample(m.render_prometheus(t0 + 5h), R"(ditio_sync_stream_unavailable{stream="images"})") == "0"
        );

        m.set_unavailable("images", true);
        CHECK(state_of(m, t0 + 5h, "images") == "unavailable");
        m.set_unavailable("images", false);
        CHECK(state_of(m, t0 + 7h, "images") == "stale");
    }
    SUBCASE("seeded state counts like a run's")
    {
        m.seed("time-registrations", t0 - 30min, t0 - 40min, false);
        m.seed("user", t0 - 4h, std::nullopt, false);
        m.seed("images", std::nullopt, std::nullopt, true);
        auto body = health_json(m.check_health(t0));
        CHECK(body.at("status") == "stale");
        CHECK(health_entry(body, "time-registrations").at("state") == "fresh");
        CHECK(health_entry(body, "time-registrations").at("age_s") == 1800);
        CHECK(health_entry(body, "user").at("state") == "stale"); // an old success: no grace
        CHECK(health_entry(body, "images").at("state") == "unavailable");
    }
}

TEST_CASE("metrics: a problem with the database file fails health at once, however fresh the streams")
{
    ops::metrics m{t0};
    m.set_streams({{"time-registrations", 1h}}, t0);
    ok_run(m, "time-registrations", t0);
    std::optional<std::string> problem;
    m.set_database_check([&] { return problem; });
    CHECK(m.check_health(t0 + 1min).ok);
    problem = "the database file /var/lib/ditio-sync/ditio.db is gone";
    auto h = m.check_health(t0 + 1min);
    CHECK_FALSE(h.ok);
    auto body = health_json(h);
    CHECK(body.at("status") == "database");
    CHECK(body.at("database").as_string() == problem->c_str());
    CHECK(health_entry(body, "time-registrations").at("state") == "fresh");
    problem.reset();
    CHECK(m.check_health(t0 + 2min).ok);
}

TEST_CASE("metrics: set_streams again replaces the enabled streams and starts grace for new ones only")
{
    ops::metrics m{t0};
    m.set_streams({{"time-registrations", 1h}, {"user", 1h}}, t0);
    ok_run(m, "user", t0);
    m.set_streams({{"time-registrations", 1h}, {"project", 1h}}, t0 + 50min);

    auto body = health_json(m.check_health(t0 + 61min));
    CHECK(body.at("status") == "stale");
    auto streams = body.at("streams").as_array();
    REQUIRE(streams.size() == 2);
    CHECK(streams[0].at("stream") == "time-registrations");
    CHECK(streams[1].at("stream") == "project");
    CHECK(health_entry(body, "time-registrations").at("state") == "never"); // enabled at t0
    CHECK(health_entry(body, "project").at("state") == "pending");          // enabled at t0 + 50min

    // A dropped stream keeps its counters but leaves the health gauges.
    auto text = m.render_prometheus(t0 + 61min);
    CHECK(sample(text, R"(ditio_sync_runs_total{stream="user",result="ok"})") == "1");
    CHECK_FALSE(sample(text, R"(ditio_sync_stream_stale{stream="user"})").has_value());
    CHECK(sample(text, R"(ditio_sync_stream_stale{stream="project"})") == "0");

    // With no enabled streams the check passes.
    m.set_streams({}, t0 + 2h);
    auto h = m.check_health(t0 + 10h);
    CHECK(h.ok);
    CHECK(health_json(h).at("streams").as_array().empty());
}

TEST_CASE("ops_server: parse_listen_address takes IP literals and localhost")
{
    CHECK(
        ops::parse_listen_address("127.0.0.1:9464") ==
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), 9464)
    );
    CHECK(ops::parse_listen_address("localhost:0") == tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    CHECK(ops::parse_listen_address("[::1]:80") == tcp::endpoint(asio::ip::make_address("::1"), 80));
    CHECK(ops::parse_listen_address("0.0.0.0:65535").port() == 65535);
    for (const auto* bad :
         {"127.0.0.1",
          "::1:80",
          "[127.0.0.1]:80",
          "127.0.0.1:65536",
          "127.0.0.1:x",
          "example.com:80",
          ":80",
          "[::1]"}) {
        CAPTURE(bad);
        try {
            ops::parse_listen_address(bad);
            FAIL("accepted");
        } catch (const config::config_error& e) {
            CHECK(contains(e.what(), fmt::format("ops.listen: {}: not host:port", bad)));
        }
    }
}

TEST_CASE("ops_server: GET and HEAD /metrics answer 200 in the Prometheus text format")
{
    server_fixture f;
    f.m.set_streams({{"time-registrations", 1h}}, t0);
    ok_run(f.m, "time-registrations", t0, t0 - 1min);
    f.now = t0 + 5min;
    auto get = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/metrics"));
    CHECK(get.status == 200);
    CHECK(get.content_type == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(without_rss(get.body) == without_rss(f.m.render_prometheus(t0 + 5min)));
    CHECK(sample(get.body, R"(ditio_sync_watermark_age_seconds{stream="time-registrations"})") == "360.000");
    CHECK(get.content_length == std::to_string(get.body.size()));

    auto head = run_io(f.io, fetch(f.ep, bhttp::verb::head, "/metrics"));
    CHECK(head.status == 200);
    CHECK(head.content_type == "text/plain; version=0.0.4; charset=utf-8");
    // The length of a GET answer; only the resident memory may have changed its digits in between.
    auto head_length = static_cast<long long>(std::stoull(head.content_length));
    CHECK(std::llabs(head_length - static_cast<long long>(get.body.size())) <= 2);
    CHECK(head.body.empty());

    auto query = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/metrics?name[]=ditio_sync_up"));
    CHECK(query.status == 200);
}

TEST_CASE("ops_server: /healthz answers 200, then 503 naming the stale stream")
{
    server_fixture f;
    f.m.set_streams({{"time-registrations", 1h}, {"user", 1h}}, t0);
    ok_run(f.m, "time-registrations", t0);
    ok_run(f.m, "user", t0 + 30min);

    f.now = t0 + 59min;
    auto ok = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/healthz"));
    CHECK(ok.status == 200);
    CHECK(ok.content_type == "application/json");
    CHECK(json::parse(ok.body).at("status") == "ok");

    f.now = t0 + 61min;
    auto stale = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/healthz"));
    CHECK(stale.status == 503);
    CHECK(stale.content_type == "application/json");
    auto body = json::parse(stale.body).as_object();
    CHECK(body.at("status") == "stale");
    CHECK(health_entry(body, "time-registrations").at("state") == "stale");
    CHECK(health_entry(body, "user").at("state") == "fresh");

    auto head = run_io(f.io, fetch(f.ep, bhttp::verb::head, "/healthz"));
    CHECK(head.status == 503);
    CHECK(head.content_length == std::to_string(stale.body.size()));
    CHECK(head.body.empty());
}

TEST_CASE("ops_server: other paths are 404 and other methods 405")
{
    server_fixture f;
    auto missing = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/"));
    CHECK(missing.status == 404);
    CHECK(run_io(f.io, fetch(f.ep, bhttp::verb::get, "/metricsx")).status == 404);
    CHECK(run_io(f.io, fetch(f.ep, bhttp::verb::get, "/healthz/")).status == 404);
    CHECK(run_io(f.io, fetch(f.ep, bhttp::verb::post, "/nowhere")).status == 404);

    auto post = run_io(f.io, fetch(f.ep, bhttp::verb::post, "/metrics"));
    CHECK(post.status == 405);
    CHECK(post.allow == "GET, HEAD");
    auto del = run_io(f.io, fetch(f.ep, bhttp::verb::delete_, "/healthz"));
    CHECK(del.status == 405);
    CHECK(del.allow == "GET, HEAD");
}

TEST_CASE("ops_server: a keep-alive connection serves several requests")
{
    server_fixture f;
    auto statuses = run_io(f.io, [](tcp::endpoint ep) -> asio::awaitable<std::vector<unsigned>> {
        auto stream = co_await connect(ep);
        std::vector<unsigned> out;
        for (const auto* target : {"/metrics", "/healthz", "/nope", "/metrics"}) {
            auto r = co_await exchange(stream, bhttp::verb::get, target);
            CHECK(r.keep_alive);
            out.push_back(r.status);
        }
        co_return out;
    }(f.ep));
    CHECK(statuses == std::vector<unsigned>{200, 200, 404, 200});
}

TEST_CASE("ops_server: request headers above 8 KiB get 431 and a close")
{
    server_fixture f;
    auto small = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/metrics", std::string(7000, 'a')));
    CHECK(small.status == 200);
    auto big = run_io(f.io, fetch(f.ep, bhttp::verb::get, "/metrics", std::string(9000, 'a')));
    CHECK(big.status == 431);
    CHECK_FALSE(big.keep_alive);
}

TEST_CASE("ops_server: a client that sends half a request is cut off at the deadline")
{
    ops::ops_server_limits limits;
    limits.timeout = 300ms;
    server_fixture f{limits};
    auto [got, elapsed] = run_io(
        f.io,
        [](tcp::endpoint ep) -> asio::awaitable<std::pair<std::string, std::chrono::steady_clock::duration>> {
            auto stream = co_await connect(ep);
            auto start = std::chrono::steady_clock::now();
            std::string_view partial = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
            co_await asio::async_write(stream, asio::buffer(partial), asio::use_awaitable);
            auto bytes = co_await read_until_closed(stream);
            co_return std::pair{bytes, std::chrono::steady_clock::now() - start};
        }(f.ep)
    );
    CHECK(got.empty()); // closed without an answer
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 3s);
}

TEST_CASE("ops_server: at the limit, a connection waiting for a request makes room for a new one")
{
    ops::ops_server_limits limits;
    limits.max_connections = 2;
    server_fixture f{limits};
    auto result = run_io(f.io, [](tcp::endpoint ep) -> asio::awaitable<std::vector<unsigned>> {
        // Two idle connections hold both slots.
        auto first = co_await connect(ep);
        auto second = co_await connect(ep);
        auto r1 = co_await exchange(first, bhttp::verb::get, "/healthz");
        // A third is served: whichever of the two has waited longer for a request is closed for it.
        auto third = co_await fetch(ep, bhttp::verb::get, "/healthz");
        auto answered = [](beast::tcp_stream& s) -> asio::awaitable<unsigned> {
            try {
                co_return (co_await exchange(s, bhttp::verb::get, "/healthz")).status;
            } catch (const boost::system::system_error&) {
                co_return 0; // closed
            }
        };
        auto a = co_await answered(first);
        auto b = co_await answered(second);
        co_return std::vector<unsigned>{r1.status, third.status, a, b};
    }(f.ep));
    CHECK(result[0] == 200);
    CHECK(result[1] == 200);
    CHECK(result[2] + result[3] == 200); // one of the two was closed, the other still serves
}

TEST_CASE("ops_server: /healthz gets through 64 connections that trickle their request heads")
{
    server_fixture f; // the default limits: 16 connections, a 2 s deadline for a request head
    auto status = run_io(f.io, [](tcp::endpoint ep) -> asio::awaitable<unsigned> {
        std::vector<beast::tcp_stream> slow;
        std::string_view partial = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1";
        for (int i = 0; i < 64; ++i) {
            slow.push_back(co_await connect(ep));
            co_await asio::async_write(slow.back(), asio::buffer(partial), util::use_nothrow);
        }
        co_return (co_await fetch(ep, bhttp::verb::get, "/healthz")).status;
    }(f.ep));
    CHECK(status == 200);
}

TEST_CASE("ops_server: /healthz gets through connections that send a whole head and trickle a body")
{
    server_fixture f;
    auto status = run_io(f.io, [](tcp::endpoint ep) -> asio::awaitable<unsigned> {
        std::vector<beast::tcp_stream> slow;
        std::string_view head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 8000\r\n\r\nabc";
        for (int i = 0; i < 32; ++i) {
            slow.push_back(co_await connect(ep));
            co_await asio::async_write(slow.back(), asio::buffer(head), util::use_nothrow);
        }
        co_return (co_await fetch(ep, bhttp::verb::get, "/healthz")).status;
    }(f.ep));
    CHECK(status == 200);
}

TEST_CASE("ops_server: stop closes the listener and idle connections, and its coroutines end")
{
    server_fixture f;
    auto status = run_io(f.io, [](tcp::endpoint ep) -> asio::awaitable<unsigned> {
        co_return (co_await fetch(ep, bhttp::verb::get, "/metrics")).status;
    }(f.ep));
    CHECK(status == 200);

    auto after = run_io(f.io, [](tcp::endpoint ep, ops::ops_server& server) -> asio::awaitable<std::string> {
        auto idle = co_await connect(ep);
        auto r = co_await exchange(idle, bhttp::verb::get, "/healthz"); // now being served, and idle
        CHECK(r.status == 200);
        server.stop(); // on the io thread, as the daemon's signal handler would
        co_return co_await read_until_closed(idle);
    }(f.ep, f.server));
    CHECK(after.empty());
    // Nothing of the server is left on the io_context: run() returns by itself.
    f.io.restart();
    f.io.run_for(5s);
    CHECK(f.io.stopped());
    // Nobody listens any more.
    asio::io_context io2;
    tcp::socket s{io2};
    boost::system::error_code ec;
    s.connect(f.ep, ec);
    CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("ops_server: refuses a non-loopback address without allow_remote, and a taken port")
{
    SUBCASE("0.0.0.0 and :: need allow_remote")
    {
        auto msg = start_error("0.0.0.0:0", false);
        CHECK(contains(msg, "ops.listen: 0.0.0.0:0: not a loopback address"));
        CHECK(contains(msg, "ops.allow_remote = true"));
        CHECK(contains(start_error("[::]:0", false), "ops.listen: [::]:0: not a loopback address"));
        CHECK(contains(start_error("192.0.2.1:9464", false), "not a loopback address"));
        CHECK(start_error("0.0.0.0:0", true) == ""); // the check, not the bind, refused it
    }
    SUBCASE("loopback forms bind")
    {
        CHECK(start_error("127.0.0.1:0", false) == "");
        CHECK(start_error("localhost:0", false) == "");
    }
    SUBCASE("a port another socket listens on")
    {
        asio::io_context io;
        tcp::acceptor taken{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
        auto port = taken.local_endpoint().port();
        auto listen = fmt::format("127.0.0.1:{}", port);
        CHECK(start_error(listen, false) == fmt::format("ops.listen: {}: address in use", listen));
    }
    SUBCASE("a malformed address")
    {
        CHECK(contains(start_error("127.0.0.1", false), "ops.listen: 127.0.0.1: not host:port"));
    }
}

TEST_SUITE_END();

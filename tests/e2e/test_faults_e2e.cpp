// The fault matrix (issue 3): one named end-to-end case per fault, each against the real binary and the
// fake Ditio over TLS, checking what the daemon did, what it logged, and what the SQLite file holds.
// tests/FAULTS.md lists every row with the test that proves it.
#include "harness.hpp"

#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

const std::string data_path = "/v1/time-registrations";

std::size_t data_requests(const testing::fake_ditio& server)
{
    std::size_t n = 0;
    for (const auto& r : server.requests())
        if (r.path.ends_with(data_path))
            ++n;
    return n;
}

testing::fault kind_fault(testing::fault::kind k, int times)
{
    testing::fault f;
    f.what = k;
    f.path_suffix = data_path;
    f.count = times;
    return f;
}

json::object field_of(const std::string& line)
{
    return json::parse(line).as_object();
}

// Runs a sync, which must succeed after `retries` logged retries, leaving an exact mirror.
void expect_recovered(fixture& fx, std::size_t retries, std::string_view reason_part = {})
{
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto lines = lines_with_event(res.err, "http.retry");
    CHECK(lines.size() == retries);
    if (!reason_part.empty() && !lines.empty())
        CHECK(
            std::string(field_of(lines.front()).at("reason").as_string()).find(reason_part) !=
            std::string::npos
        );
    check_no_leaks(fx, res.err);
}

} // namespace

TEST_SUITE_BEGIN("e2e-faults");

TEST_CASE("e2e fault: 429 with Retry-After as an HTTP date waits until that date")
{
    fixture fx;
    auto f = status_fault(429, 1);
    auto when = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()) +
                std::chrono::seconds{3};
    f.retry_after = util::format_http_date(when);
    fx.server().inject(f);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto retries = lines_with_event(res.err, "http.retry");
    REQUIRE(retries.size() == 1);
    auto retry = field_of(retries.front());
    auto delay = std::chrono::milliseconds{retry.at("delay_ms").as_int64()};
    auto logged_at = util::parse_iso8601(std::string(retry.at("ts").as_string()));
    REQUIRE(logged_at);
    // However long the start took on this machine, the retry waits until the date (the header's whole
    // second), measured against the response's own Date: never sooner, and never longer than asked.
    auto date = util::parse_http_date(*f.retry_after);
    REQUIRE(date);
    CHECK(delay <= std::chrono::seconds{3});
    CHECK(*logged_at + delay >= *date - std::chrono::milliseconds{10});
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE(
    "e2e fault: a persistent 503 fails the run after a bounded number of requests and keeps the checkpoint"
)
{
    fixture_options o;
    o.settings["http.max_retries"] = "3";
    fixture fx(o);
    auto proc = fx.start_held(4, {"sync"});
    fx.server().inject(status_fault(503, 1000, R"({"error":"ServiceUnavailable","message":"maintenance"})"));
    fx.server().release();
    auto res = proc.wait();
    INFO(res.err);
    CHECK(res.exit_code == 1);
    // Three pages, then the held fourth (answered 503 once released) and its three retries.
    CHECK(data_requests(fx.server()) == 3 + 4);
    CHECK(query_text(fx.db(), "SELECT continuation_token FROM sync_state").has_value());
    CHECK(query_int(fx.db(), "SELECT pages_done FROM sync_state") == 3);
    auto last_error = query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("");
    CHECK(last_error.find("503") != std::string::npos);
    CHECK(last_error.find("maintenance") != std::string::npos);
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs") == "failed");

    fx.server().clear_faults();
    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e fault: a persistent fault makes the daemon send a bounded number of requests")
{
    fixture_options o;
    o.settings["sync.interval"] = "\"4s\"";
    o.settings["http.max_retries"] = "2";
    fixture fx(o);
    fx.server().inject(status_fault(503, 100000));
    auto started = std::chrono::steady_clock::now();
    auto proc = fx.start({"run"});
    // Three failed runs: each is at most max_retries + 1 requests, and the next run after a failure
    // waits at least half of min(interval, 30 s).
    REQUIRE(wait_for_event(proc, "sync.stream_backoff", 3, std::chrono::seconds{60}));
    proc.kill(SIGTERM);
    auto res = proc.wait(std::chrono::seconds{10});
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO(res.err);
    CHECK(res.exit_code == 0);
    auto runs = lines_with_event(res.err, "sync.run_finished").size();
    auto requests = data_requests(fx.server());
    CHECK(requests <= runs * 3);
    CHECK(seconds >= 2.0 * 2); // two waits of at least 2 s between the three runs
    CHECK(static_cast<double>(requests) <= (seconds / 2.0 + 1.0) * 3.0);
    for (const auto& line : lines_with_event(res.err, "sync.stream_backoff"))
        CHECK(field_of(line).at("retry_in_ms").as_int64() >= 2000);
}

TEST_CASE("e2e fault: the run's retry budget ends a run before http.max_retries would")
{
    fixture_options o;
    o.settings["http.max_retries"] = "20";
    o.settings["http.run_retry_budget"] = "3";
    fixture fx(o);
    auto proc = fx.start_held(3, {"sync"});
    fx.server().inject(status_fault(502, 1000));
    fx.server().release();
    auto res = proc.wait();
    INFO(res.err);
    CHECK(res.exit_code == 1);
    CHECK(data_requests(fx.server()) == 2 + 4);
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("").find("budget") !=
        std::string::npos
    );
    CHECK(query_int(fx.db(), "SELECT pages_done FROM sync_state") == 2);
}

TEST_CASE("e2e fault: a connection reset mid-page is retried")
{
    fixture fx;
    // The first reset hits a kept-alive connection and is taken for a stale one: reconnect silently.
    // The second, on the fresh connection, is a real failure: retried with backoff.
    fx.server().inject(kind_fault(testing::fault::kind::reset, 2));
    expect_recovered(fx, 1);
    CHECK(fx.server().stats().connections_accepted >= 3);
}

TEST_CASE("e2e fault: a truncated body is retried and nothing of it is committed")
{
    fixture fx;
    fx.server().inject(kind_fault(testing::fault::kind::truncate, 1));
    expect_recovered(fx, 1);
}

TEST_CASE("e2e fault: a response slower than http.timeout is retried")
{
    fixture_options o;
    o.settings["http.timeout"] = "\"2s\"";
    fixture fx(o);
    auto f = kind_fault(testing::fault::kind::delay, 1);
    f.delay = std::chrono::seconds{6};
    fx.server().inject(f);
    expect_recovered(fx, 1, "timed out");
}

TEST_CASE("e2e fault: an HTML error page with status 200 from a proxy is retried, never parsed")
{
    fixture fx;
    fx.server().inject(kind_fault(testing::fault::kind::html_200, 1));
    expect_recovered(fx, 1, "content type");
}

TEST_CASE("e2e fault: malformed JSON envelopes are retried and commit nothing")
{
    fixture fx;
    fx.server().inject(
        status_fault(200, 1, R"({"data":[{"id":"a1","modifiedDateTime":"2026-01-01T00:00:00Z"},)")
    );
    fx.server().inject(status_fault(200, 1, R"({"data":{"id":"a2"}})"));
    // A record that is not an object (a record without an id is quarantined instead, test_records_e2e).
    fx.server().inject(status_fault(200, 1, R"({"data":[{"id":"a3"},"a4"]})"));
    fx.server().inject(status_fault(200, 1, R"([1,2,3])"));
    expect_recovered(fx, 4, "malformed page");
    auto mirror = read_mirror(fx.db());
    CHECK_FALSE(mirror.contains("a1"));
    CHECK_FALSE(mirror.contains("a2"));
}

TEST_CASE("e2e fault: records with unknown extra fields are stored whole, exactly as sent")
{
    fixture_options o;
    o.records = 0;
    fixture fx(o);
    const std::string record =
        R"({"id":"65a000000000000000000001","modifiedDateTime":"2026-10-01T06:02:11.123Z","isDeleted":false,)"
        R"("qty":7.50,"brandNewField":{"nested":[1,2,{"deep":"æøå \"quoted\""}]},"workDate":"2026-09-28T00:00:00Z"})";
    fx.server().inject(status_fault(200, 1, R"({"data":[)" + record + R"(],"continuationToken":null})"));
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto mirror = read_mirror(fx.db());
    REQUIRE(mirror.contains("65a000000000000000000001"));
    CHECK(mirror["65a000000000000000000001"].data == record);
    CHECK(query_text(fx.db(), "SELECT qty FROM v_time_registrations") == "7.5");
}

TEST_CASE("e2e fault: a 400 with Ditio's error fails the run with its message in the log and last_error")
{
    fixture fx;
    // Every answer refuses: a 400 to a window's first page is halved first (it may be about the window's
    // size, whatever it says), down to one day, then the run fails with Ditio's message.
    fx.server().inject(status_fault(
        400, 1000, R"({"error":"ArgumentIsNull","message":"The 'ModifiedSince' parameter is required."})"
    ));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 1);
    // A window of years halves to a day in a dozen steps; never more than that.
    CHECK(data_requests(fx.server()) > 1);
    CHECK(data_requests(fx.server()) <= 16);
    auto last_error = query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("");
    CHECK(last_error.find("ArgumentIsNull") != std::string::npos);
    CHECK(last_error.find("parameter is required") != std::string::npos);
    auto finished = lines_with_event(res.err, "sync.run_finished");
    REQUIRE(finished.size() == 1);
    CHECK(
        std::string(field_of(finished.front()).at("error").as_string()).find("ArgumentIsNull") !=
        std::string::npos
    );
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);
}

TEST_CASE("e2e fault: the token endpoint down is retried with backoff")
{
    fixture fx;
    auto f = status_fault(503, 3);
    f.path_suffix = "/connect/token";
    fx.server().inject(f);
    expect_recovered(fx, 3, "token endpoint");
    CHECK(fx.server().stats().token_requests == 4);
}

TEST_CASE("e2e fault: a 403 for a token without the right scope stops with exit code 3 and no refresh loop")
{
    fixture fx;
    fx.server().inject(status_fault(403, 1000, R"({"error":"Forbidden","message":"insufficient scope"})"));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 3);
    CHECK(fx.server().stats().tokens_issued == 1);
    CHECK(data_requests(fx.server()) == 1);
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("").find("403") != std::string::npos
    );
}

TEST_CASE("e2e fault: invalid_scope from the identity server stops with exit code 3 naming the scope")
{
    fixture_options o;
    o.server.allowed_scopes = {"ditioapiv3"};
    fixture fx(o);
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 3);
    CHECK(res.err.find("scope") != std::string::npos);
    CHECK(fx.server().stats().token_requests == 1);
    CHECK(data_requests(fx.server()) == 0);
}

TEST_CASE("e2e fault: a revoked client in the daemon is retried slowly with a loud log line each time")
{
    fixture_options o;
    o.settings["sync.interval"] = "\"2s\"";
    fixture fx(o);
    fx.server().set_client_revoked(true);
    auto proc = fx.start({"run"});
    REQUIRE(wait_for_event(proc, "sync.stream_backoff", 2, std::chrono::seconds{30}));
    proc.kill(SIGTERM);
    auto res = proc.wait(std::chrono::seconds{10});
    INFO(res.err);
    CHECK(res.exit_code == 0);
    auto backoffs = lines_with_event(res.err, "sync.stream_backoff");
    for (const auto& line : backoffs) {
        auto o2 = field_of(line);
        CHECK(o2.at("level").as_string() == "critical");
        CHECK(o2.at("status").as_string() == "auth_refused");
    }
    // Each attempt is one token, one call, one refreshed token and one more call: never a loop.
    auto attempts = lines_with_event(res.err, "sync.run_finished").size();
    CHECK(attempts >= 2);
    CHECK(fx.server().stats().tokens_issued <= 2 * attempts);
    CHECK(data_requests(fx.server()) <= 2 * attempts);
    check_no_leaks(fx, res.err);
}

TEST_CASE("e2e fault: a reader holding a long read transaction does not stall the daemon")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    fx.server().edit(fx.server().pick_live(200, 5));
    fx.server().insert(100);
    SQLite::Database reader(fx.db().string(), SQLite::OPEN_READONLY);
    reader.exec("BEGIN");
    auto before = reader.execAndGet("SELECT count(*) FROM time_registrations").getInt64();
    auto res = fx.run({"sync"}, {}, std::chrono::seconds{30});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    // The reader still sees its snapshot; the writer went on regardless.
    CHECK(reader.execAndGet("SELECT count(*) FROM time_registrations").getInt64() == before);
    reader.exec("COMMIT");
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE(
    "e2e fault: a write lock held by another process beyond busy_timeout delays the page, then it commits"
)
{
    fixture_options o;
    o.settings["storage.busy_timeout"] = "\"100ms\"";
    fixture fx(o);
    auto proc = fx.start_held(3, {"sync"});
    {
        SQLite::Database other(fx.db().string(), SQLite::OPEN_READWRITE, 10'000);
        SQLite::Transaction lock(other, SQLite::TransactionBehavior::IMMEDIATE);
        fx.server().release();
        REQUIRE(wait_for_event(proc, "store.busy_retry", 1, std::chrono::seconds{30}));
        CHECK(query_int(fx.db(), "SELECT pages_done FROM sync_state") <= 2);
    }
    auto res = proc.wait();
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE(
    "e2e fault: a write lock that is never released fails the run with exit code 4 and an intact checkpoint"
)
{
    fixture_options o;
    o.settings["storage.busy_timeout"] = "\"100ms\"";
    fixture fx(o);
    auto proc = fx.start_held(3, {"sync"});
    process_result res;
    {
        SQLite::Database other(fx.db().string(), SQLite::OPEN_READWRITE, 10'000);
        SQLite::Transaction lock(other, SQLite::TransactionBehavior::IMMEDIATE);
        fx.server().release();
        res = proc.wait();
    }
    INFO(res.err);
    CHECK(res.exit_code == 4);
    CHECK(res.err.find("locked") != std::string::npos);
    auto pages = query_int(fx.db(), "SELECT pages_done FROM sync_state");
    CHECK(pages >= 1);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == pages * 100);
    CHECK(query_text(fx.db(), "SELECT continuation_token FROM sync_state").has_value());

    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e fault: a full disk fails the run cleanly with exit code 4 and nothing half-written")
{
    fixture_options o;
    o.records = 3000;
    fixture fx(o);
    // RLIMIT_FSIZE makes writes past 1.5 MB fail as on a full disk, part way into the full sync.
    fx.set_command_prefix({"/usr/bin/prlimit", "--fsize=1500000", "--"});
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 4);
    CHECK(res.signal == 0);
    CHECK((res.err.find("disk full") != std::string::npos || res.err.find("I/O error") != std::string::npos));
    CHECK(query_text(fx.db(), "PRAGMA integrity_check") == "ok");
    auto pages = query_int(fx.db(), "SELECT pages_done FROM sync_state");
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == pages * 100);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") < 3000);

    fx.set_command_prefix({});
    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e fault: a read-only database fails cleanly with exit code 4 and changes nothing")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    fx.server().insert(50);
    auto rows = query_int(fx.db(), "SELECT count(*) FROM time_registrations");
    auto watermark = query_text(fx.db(), "SELECT watermark FROM sync_state");
    // A private mount namespace in which the database's directory is a read-only bind mount.
    fx.set_command_prefix(read_only_mount_prefix(fx.db().parent_path()));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 4);
    CHECK(res.err.find("read-only") != std::string::npos);
    // The write is tried when the database opens, before Ditio is asked for anything (the one token is
    // the first sync's).
    CHECK(res.err.find("read-only file system") != std::string::npos);
    CHECK(fx.server().stats().token_requests == 1);
    fx.set_command_prefix({});
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == rows);
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state") == watermark);
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e fault: a second ditio-sync on the same database is refused with exit code 4")
{
    fixture fx;
    // Another process holds the lock on the database file and has written its pid beside it.
    std::filesystem::create_directories(fx.db().parent_path());
    int fd = ::open(fx.db().c_str(), O_RDWR | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    {
        std::ofstream(fx.db().string() + ".lock") << "4242\n";
    }
    auto res = fx.run({"sync"});
    ::close(fd);
    INFO(res.err);
    CHECK(res.exit_code == 4);
    CHECK(res.err.find("another ditio-sync (pid 4242)") != std::string::npos);
    CHECK(fx.server().stats().token_requests == 0);
    CHECK(std::filesystem::file_size(fx.db()) == 0); // nothing written
    CHECK(fx.run({"sync"}).exit_code == 0);
}

TEST_SUITE_END();

// End-to-end: the real ditio-sync binary against the fake Ditio server over TLS on loopback, checked by
// reading the real SQLite file and the server's request log.
#include "harness.hpp"

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

std::vector<testing::request_record> data_requests(const testing::fake_ditio& server)
{
    std::vector<testing::request_record> out;
    for (auto& r : server.requests())
        if (r.path.ends_with("/v1/time-registrations"))
            out.push_back(r);
    return out;
}

std::string param(const testing::request_record& r, const std::string& key)
{
    auto it = r.query.find(key);
    return it == r.query.end() ? std::string{} : it->second;
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e: initial full sync mirrors every live record over TLS with one kept-alive connection")
{
    fixture fx;
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM time_registrations WHERE is_deleted = 0") ==
        static_cast<std::int64_t>(fx.server().live_count())
    );
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM v_time_registrations") ==
        static_cast<std::int64_t>(fx.server().live_count())
    );

    auto reqs = data_requests(fx.server());
    REQUIRE(reqs.size() >= 20);
    for (const auto& r : reqs) {
        CHECK(param(r, "fromdatetime") == param(reqs.front(), "fromdatetime"));
        CHECK(param(r, "todatetime") == param(reqs.front(), "todatetime"));
        CHECK(param(r, "chunklimit") == "100");
        CHECK(param(r, "modifiedsince").empty());
    }
    CHECK(param(reqs.front(), "fromdatetime") == "2020-01-01");
    for (const auto& r : fx.server().requests())
        CHECK(r.user_agent == "ditio-sync/" DITIO_SYNC_VERSION);
    // Identity and reporting share the origin here, so every request should ride one connection.
    CHECK(fx.server().stats().connections_accepted <= 2);
    CHECK(fx.server().stats().tokens_issued == 1);

    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'")
              .has_value());
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1") == "ok");
    CHECK(query_text(fx.db(), "SELECT mode FROM sync_runs ORDER BY id DESC LIMIT 1") == "full");
    CHECK(!query_text(fx.db(), "SELECT continuation_token FROM sync_state").has_value());
    CHECK(lines_with_event(res.err, "sync.run_started").size() == 1);
    CHECK(lines_with_event(res.err, "sync.page_committed").size() == reqs.size());
    CHECK(lines_with_event(res.err, "sync.run_finished").size() == 1);
    CHECK(lines_with_event(res.err, "auth.token_refreshed").size() == 1);
    check_no_leaks(fx, res.err);
}

TEST_CASE("e2e: a second run applies edits, deletions and insertions incrementally")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    auto& server = fx.server();
    auto edited = server.pick_live(30, 1);
    server.edit(edited);
    auto removed = server.pick_live(20, 2);
    server.remove(removed);
    auto inserted = server.insert(50);
    server.clear_requests();

    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto mirror = read_mirror(fx.db());
    for (const auto& id : removed) {
        REQUIRE(mirror.contains(id));
        CHECK(mirror[id].is_deleted);
        CHECK(mirror[id].deleted_at.has_value());
        // The tombstone flags the row but keeps the last live data.
        CHECK(json::parse(mirror[id].data).as_object().at("projectName").is_string());
    }
    for (const auto& id : inserted)
        CHECK(mirror.contains(id));

    auto reqs = data_requests(server);
    REQUIRE(!reqs.empty());
    for (const auto& r : reqs) {
        CHECK(!param(r, "modifiedsince").empty());
        CHECK(param(r, "modifiedsince") == param(reqs.front(), "modifiedsince"));
        CHECK(param(r, "fromdatetime").empty());
    }
    CHECK(query_text(fx.db(), "SELECT mode FROM sync_runs ORDER BY id DESC LIMIT 1") == "incremental");
    CHECK(query_int(fx.db(), "SELECT rows_deleted FROM sync_runs ORDER BY id DESC LIMIT 1") >= 20);
    check_no_leaks(fx, res.err);
}

TEST_CASE("e2e: a run that crosses a token expiry refreshes once and loses no page")
{
    fixture_options o;
    o.chunk_limit = 50;
    fixture fx(o);
    // Debug level logs every request: still no header, token or secret may appear.
    auto proc = fx.start_held(10, {"--log-level", "debug", "sync"});
    fx.server().expire_all_tokens();
    fx.server().release();
    auto res = proc.wait();
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    CHECK(fx.server().stats().unauthorized >= 1);
    CHECK(fx.server().stats().tokens_issued == 2);
    CHECK(lines_with_event(res.err, "auth.token_rejected").size() == 1);
    CHECK(lines_with_event(res.err, "http.response").size() >= 40);
    check_no_leaks(fx, res.err);
}

TEST_CASE("e2e: after SIGKILL mid-run the next run resumes from the saved continuation token")
{
    fixture_options o;
    o.chunk_limit = 50;
    fixture fx(o);
    auto& server = fx.server();
    auto proc = fx.start_held(8, {"sync"});
    proc.kill(SIGKILL);
    auto killed = proc.wait();
    CHECK(killed.signal == SIGKILL);
    server.release();

    auto pages_done = query_int(fx.db(), "SELECT pages_done FROM sync_state");
    CHECK(pages_done >= 5);
    REQUIRE(query_text(fx.db(), "SELECT continuation_token FROM sync_state").has_value());
    auto committed_rows = query_int(fx.db(), "SELECT count(*) FROM time_registrations");
    CHECK(committed_rows >= pages_done * 50);

    // Ditio keeps changing while the daemon is down.
    server.edit(server.pick_live(25, 7));
    server.remove(server.pick_live(10, 8));
    server.insert(15);
    server.clear_requests();

    auto resumed = fx.run({"sync"});
    INFO(resumed.err);
    REQUIRE(resumed.exit_code == 0);
    auto reqs = data_requests(server);
    REQUIRE(!reqs.empty());
    CHECK(!param(reqs.front(), "continuationtoken").empty());
    auto started = lines_with_event(resumed.err, "sync.run_started");
    REQUIRE(started.size() == 1);
    CHECK(json::parse(started.front()).as_object().at("resumed").as_bool());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs") == 1);

    // The full traversal cannot see changes behind its cursor; the incremental run that follows must.
    auto next = fx.run({"sync"});
    INFO(next.err);
    REQUIRE(next.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e: a rejected continuation token restarts the run from its first page")
{
    fixture fx;
    testing::fault f;
    f.what = testing::fault::kind::reject_continuation;
    f.path_suffix = "/v1/time-registrations";
    fx.server().inject(f);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    CHECK(lines_with_event(res.err, "sync.run_restarted").size() == 1);
    auto reqs = data_requests(fx.server());
    auto first_pages = std::count_if(reqs.begin(), reqs.end(), [](const auto& r) {
        return param(r, "continuationtoken").empty();
    });
    CHECK(first_pages == 2);
}

TEST_CASE("e2e: a wrong client secret stops with exit code 3 and writes nothing")
{
    fixture fx;
    const std::string wrong = "not-the-secret-8f3a";
    auto res = fx.run({"sync"}, {{"DITIO_CLIENT_SECRET", wrong}});
    INFO(res.err);
    CHECK(res.exit_code == 3);
    CHECK(res.err.find("client_id") != std::string::npos);
    CHECK(res.err.find(wrong) == std::string::npos);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);
    CHECK(!query_text(fx.db(), "SELECT watermark FROM sync_state").has_value());
    CHECK(fx.server().stats().token_requests == 1);
    CHECK(fx.server().stats().api_requests == 0);
    CHECK(non_json_lines(res.err).empty());
}

TEST_CASE("e2e: a missing secret or a malformed HTTPS_PROXY is a configuration error that writes nothing")
{
    fixture fx;
    auto no_secret = fx.run({"sync"}, {{"DITIO_CLIENT_SECRET", ""}});
    INFO(no_secret.err);
    CHECK(no_secret.exit_code == 2);
    CHECK(no_secret.err.find("client_secret") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(fx.db()));

    auto bad_proxy = fx.run({"sync"}, {{"HTTPS_PROXY", "proxy.example:3128"}});
    INFO(bad_proxy.err);
    CHECK(bad_proxy.exit_code == 2);
    CHECK(bad_proxy.err.find("HTTPS_PROXY") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(fx.db()));
    CHECK(fx.server().stats().token_requests == 0);
}

TEST_CASE("e2e: a revoked client answering 401 to a fresh token stops with exit code 3 without a refresh loop"
)
{
    fixture fx;
    fx.server().set_client_revoked(true);
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 3);
    CHECK(fx.server().stats().tokens_issued == 2);
    CHECK(fx.server().stats().api_requests == 2);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("").find("401") != std::string::npos
    );
}

TEST_CASE("e2e: the server certificate must chain to a trusted CA, and SSL_CERT_FILE is honoured")
{
    fixture fx;
    auto other = testing::make_test_pki(fx.dir() / "other-pki");
    auto original = read_file(fx.config());
    auto replace_ca = [&](const std::string& with) {
        auto text = original;
        auto pos = text.find(fx.pki().ca_cert.string());
        REQUIRE(pos != std::string::npos);
        text.replace(pos, fx.pki().ca_cert.string().size(), with);
        std::ofstream(fx.config(), std::ios::trunc) << text;
    };

    replace_ca(other.ca_cert.string());
    auto untrusted = fx.run({"sync"});
    INFO(untrusted.err);
    CHECK(untrusted.exit_code == 1);
    CHECK(untrusted.err.find("TLS") != std::string::npos);
    CHECK(fx.server().stats().token_requests == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);

    replace_ca("");
    auto via_env = fx.run({"sync"}, {{"SSL_CERT_FILE", fx.pki().ca_cert.string()}});
    INFO(via_env.err);
    CHECK(via_env.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e: SIGTERM during a page exits 0 and the next run completes the mirror")
{
    fixture fx;
    auto proc = fx.start_held(5, {"sync"});
    auto before = std::chrono::steady_clock::now();
    proc.kill(SIGTERM);
    auto res = proc.wait(std::chrono::seconds{10});
    fx.server().release();
    INFO(res.err);
    CHECK(res.exit_code == 0);
    CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds{5});
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1") == "interrupted");
    CHECK(query_text(fx.db(), "SELECT continuation_token FROM sync_state").has_value());
    CHECK(lines_with_event(res.err, "app.stopping").size() == 1);

    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e: 503 and 429 answers are retried, honouring Retry-After")
{
    fixture fx;
    testing::fault unavailable;
    unavailable.status = 503;
    unavailable.count = 2;
    unavailable.path_suffix = "/v1/time-registrations";
    unavailable.body = R"({"error":"ServiceUnavailable","message":"try later"})";
    fx.server().inject(unavailable);
    testing::fault limited;
    limited.status = 429;
    limited.retry_after = "1";
    limited.path_suffix = "/v1/time-registrations";
    fx.server().inject(limited);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto retries = lines_with_event(res.err, "http.retry");
    REQUIRE(retries.size() == 3);
    CHECK(json::parse(retries.back()).as_object().at("delay_ms").as_int64() == 1000);
}

TEST_CASE("e2e: sync --full marks rows the server no longer returns as deleted")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    auto purged = fx.server().pick_live(10, 3);
    fx.server().purge(purged);
    auto watermark_before = query_text(fx.db(), "SELECT watermark FROM sync_state");
    auto res = fx.run({"sync", "--full"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto mirror = read_mirror(fx.db());
    for (const auto& id : purged) {
        REQUIRE(mirror.contains(id));
        CHECK(mirror[id].is_deleted);
    }
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM time_registrations WHERE is_deleted = 0") ==
        static_cast<std::int64_t>(fx.server().live_count())
    );
    // A full re-sync keeps the old watermark, so the next incremental run still covers the gap.
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state") == watermark_before);
    CHECK(query_text(fx.db(), "SELECT mode FROM sync_runs ORDER BY id DESC LIMIT 1") == "full");
}

TEST_CASE(
    "e2e: status reports rows, watermark and the last run, and a newer schema is refused with exit code 4"
)
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    auto st = fx.run({"status", "--json"});
    REQUIRE(st.exit_code == 0);
    auto v = json::parse(st.out);
    const auto& s = v.at("streams").as_array().at(0).as_object();
    CHECK(s.at("stream").as_string() == "time-registrations");
    CHECK(s.at("rows").as_int64() == static_cast<std::int64_t>(fx.server().live_count()));
    CHECK(s.at("watermark").is_string());
    CHECK(s.at("data_complete_through").is_string());
    CHECK(s.at("last_run").at("status").as_string() == "ok");
    // The summary: a verdict, and the stream's line with the same complete-through time as --json.
    auto text = fx.run({"status"});
    CHECK(text.exit_code == 0);
    CHECK(text.out.starts_with("ok: 1 stream, all complete through "));
    CHECK(
        text.out.find(fmt::format("  {}  ok ", s.at("data_complete_through").as_string().c_str())) !=
        std::string::npos
    );
    auto detail = fx.run({"status", "time-registrations"});
    CHECK(detail.out.find("time-registrations") != std::string::npos);
    CHECK(detail.out.find("data complete through") != std::string::npos);
    // And v_sync_freshness shows the very same string.
    CHECK(
        query_text(fx.db(), "SELECT complete_through FROM v_sync_freshness").value_or("") ==
        s.at("data_complete_through").as_string().c_str()
    );

    {
        SQLite::Database db(fx.db().string(), SQLite::OPEN_READWRITE);
        db.exec("PRAGMA user_version = 999");
    }
    auto refused = fx.run({"sync"});
    CHECK(refused.exit_code == 4);
    CHECK(refused.err.find("newer") != std::string::npos);
    CHECK(fx.run({"status"}).exit_code == 4);
}

TEST_CASE("e2e: the daemon syncs on its interval and stops cleanly on SIGTERM")
{
    fixture_options o;
    o.settings["sync.interval"] = "\"1s\"";
    fixture fx(o);

    auto proc = fx.start({"run"});
    auto wait_for_runs = [&](std::size_t n) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
        while (lines_with_event(proc.err_so_far(), "sync.run_finished").size() < n) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
    };
    wait_for_runs(1);
    // A second writer on the same database is refused while the daemon holds it.
    auto second = fx.run({"sync"});
    CHECK(second.exit_code == 4);
    CHECK(second.err.find("another ditio-sync") != std::string::npos);
    fx.server().insert(40);
    fx.server().remove(fx.server().pick_live(5, 9));
    // Counted after the edits: a run finishing later may have started before them, the one after it
    // cannot (however many ran before, on a slow machine).
    auto runs_before = lines_with_event(proc.err_so_far(), "sync.run_finished").size();
    wait_for_runs(runs_before + 2);
    proc.kill(SIGTERM);
    auto res = proc.wait(std::chrono::seconds{10});
    INFO(res.err);
    CHECK(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    check_no_leaks(fx, res.err);
}

TEST_SUITE_END();

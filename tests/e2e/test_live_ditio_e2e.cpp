// Where Ditio's sources are silent (docs/live-ditio.md sections 3 to 5), end to end against the fake: a base
// address that is not Ditio, a client without every scope, and the company to write to apart from the
// companies to read.
#include "harness.hpp"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>

using namespace ditio_sync;
using namespace ditio_sync::e2e;

namespace {

constexpr const char* company = "5f0c3a9e1d2b4c6a8e0f1a2b"; // the fake's company

bool contains(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

void exec_sql(const std::filesystem::path& db, const std::string& sql)
{
    SQLite::Database c(db.string(), SQLite::OPEN_READWRITE);
    c.setBusyTimeout(5000);
    c.exec(sql);
}

std::string project_sql(const std::string& number, const std::string& name)
{
    return fmt::format(
        "INSERT INTO outbox_projects (company_id, project_number, name) VALUES ('{}', '{}', '{}');",
        company,
        number,
        name
    );
}

fixture_options small()
{
    fixture_options o;
    o.records = 50;
    o.settings["push.company_id"] = fmt::format("\"{}\"", company);
    return o;
}

// Data requests the fake saw (paths under v1/).
std::vector<testing::request_record> page_requests(const testing::fake_ditio& server)
{
    std::vector<testing::request_record> out;
    for (auto& r : server.requests())
        if (r.path.find("/v1/") != std::string::npos)
            out.push_back(std::move(r));
    return out;
}

} // namespace

TEST_SUITE_BEGIN("e2e live ditio");

TEST_CASE("e2e live: an HTML or empty 404 at ditio.api_base leaves the rows pending and push exits 2")
{
    fixture fx(small());
    auto& server = fx.server();
    fx.set_setting("ditio.api_base", fmt::format("\"{}/wrong\"", server.base_url()));
    auto answer = testing::foreign_answer::html_404;
    SUBCASE("an HTML page")
    {
        answer = testing::foreign_answer::html_404;
    }
    SUBCASE("an empty body")
    {
        answer = testing::foreign_answer::empty_404;
    }
    SUBCASE("an HTML 405")
    {
        answer = testing::foreign_answer::html_405;
    }
    server.set_foreign_prefix("/wrong", answer);
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(fx.db(), project_sql("P-1", "Bru") + project_sql("P-2", "Tunnel"));

    auto r = fx.run({"push"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.out, "ditio.api_base"));
    CHECK(lines_with_event(r.err, "push.misconfigured").size() == 1);
    CHECK(lines_with_event(r.err, "push.failed").empty());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'pending'") == 2);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'failed'") == 0);
    CHECK(server.integration_projects().empty());
    auto st = fx.run({"status"});
    INFO(st.out);
    CHECK(contains(st.out, "pending rows wait: ditio.api_base"));

    // check says it before anything else it judges.
    auto c = fx.run({"check"});
    INFO(c.out);
    CHECK(c.exit_code == 2);
    CHECK(c.out.rfind("problems: integration", 0) == 0);
    auto line = c.out.substr(c.out.find("\nintegration: ") + 1);
    line = line.substr(0, line.find('\n'));
    CHECK(line.rfind("integration: failed (ditio.api_base: ", 0) == 0);
    CHECK(contains(line, "does not look like Ditio's API"));

    // Once the base is right the same rows go out: they were never refused.
    server.set_foreign_prefix("", std::nullopt);
    fx.set_setting("ditio.api_base", fmt::format("\"{}/core\"", server.base_url()));
    auto again = fx.run({"push"});
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(server.integration_projects().size() == 2);
}

TEST_CASE("e2e live: the daemon reports a foreign ditio.api_base once per pass and /healthz is unhealthy")
{
    auto o = small();
    o.settings["push.check_every"] = "\"100ms\"";
    o.settings["push.interval"] = "\"1s\"";
    auto port = free_port();
    o.settings["ops.listen"] = fmt::format("\"127.0.0.1:{}\"", port);
    fixture fx(o);
    auto& server = fx.server();
    fx.set_setting("ditio.api_base", fmt::format("\"{}/wrong\"", server.base_url()));
    server.set_foreign_prefix("/wrong", testing::foreign_answer::html_404);
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(fx.db(), project_sql("P-1", "Bru") + project_sql("P-2", "Tunnel"));
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "push.misconfigured", 2, std::chrono::seconds{30}));
    auto health = http_get(port, "/healthz");
    CHECK(health.status == 503);
    CHECK(contains(health.body, "\"status\":\"push\""));
    CHECK(contains(health.body, "ditio.api_base"));
    daemon.kill(SIGTERM);
    auto d = daemon.wait();
    CHECK(d.exit_code == 0);
    // One line per pass, each pass ending at its first request (a stop may fall between a pass's line and
    // its summary).
    auto said = lines_with_event(d.err, "push.misconfigured");
    auto passes = lines_with_event(d.err, "push.summary");
    CHECK(said.size() >= 2);
    CHECK(said.size() >= passes.size());
    CHECK(said.size() <= passes.size() + 1);
    CHECK(contains(said.front(), "\"level\":\"error\""));
    CHECK(lines_with_event(d.err, "push.failed").empty());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'pending'") == 2);
}

TEST_CASE("e2e live: a genuine Ditio JSON 404 keeps its meaning")
{
    fixture fx(small());
    auto& server = fx.server();
    SUBCASE("on the Integration API: a work order's unknown project fails the row")
    {
        REQUIRE(fx.run({"migrate"}).exit_code == 0);
        exec_sql(
            fx.db(),
            fmt::format(
                "INSERT INTO outbox_work_orders (company_id, project_number, external_id, name) VALUES "
                "('{}', 'NO-SUCH', 'WO-1', 'Graving');",
                company
            )
        );
        auto r = fx.run({"push"});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK(query_text(fx.db(), "SELECT status FROM outbox_work_orders") == "failed");
        CHECK(lines_with_event(r.err, "push.misconfigured").empty());
    }
    SUBCASE("on extraction before anything was read: the stream is unavailable here")
    {
        server.set_stream_available("time-registrations", false);
        fx.set_setting("sync.streams", "[\"time-registrations\", \"project\"]");
        auto r = fx.run({"sync"});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(lines_with_event(r.err, "sync.stream_unavailable").size() == 1);
    }
}

TEST_CASE("e2e live: an HTML or empty 404 at ditio.reporting_base is a configuration error naming the key")
{
    fixture fx(small());
    auto& server = fx.server();
    fx.set_setting("ditio.reporting_base", fmt::format("\"{}/wrong\"", server.base_url()));
    fx.set_setting("sync.streams", "[\"time-registrations\", \"project\"]");
    auto answer = testing::foreign_answer::html_404;
    SUBCASE("an HTML page")
    {
        answer = testing::foreign_answer::html_404;
    }
    SUBCASE("an empty body")
    {
        answer = testing::foreign_answer::empty_404;
    }
    server.set_foreign_prefix("/wrong", answer);
    auto r = fx.run({"sync"});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "ditio.reporting_base"));
    CHECK(lines_with_event(r.err, "sync.stream_unavailable").empty());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_state WHERE unavailable_at IS NOT NULL") == 0);
    auto c = fx.run({"check"});
    INFO(c.out);
    CHECK(c.exit_code == 2);
    CHECK(contains(c.out, "ditio.reporting_base: "));
}

TEST_CASE("e2e live: a reporting-only client syncs, and push is off, said once, its rows pending")
{
    auto o = small();
    o.server.allowed_scopes = {"reportingapiv1"};
    o.settings["push.check_every"] = "\"100ms\"";
    o.settings["push.interval"] = "\"1s\"";
    SUBCASE("the token endpoint refuses ditioapiv3 with invalid_scope") {}
    SUBCASE("the token endpoint narrows the scope silently")
    {
        o.server.narrow_scopes = true;
    }
    fixture fx(o);
    auto& server = fx.server();

    auto s = fx.run({"sync"});
    INFO(s.err);
    CHECK(s.exit_code == 0);
    check_mirror_exact(server, fx.db());

    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(fx.db(), project_sql("P-1", "Bru"));
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "push.summary", 2, std::chrono::seconds{30}));
    daemon.kill(SIGTERM);
    auto d = daemon.wait();
    CHECK(d.exit_code == 0);
    auto off = lines_with_event(d.err, "auth.feature_off");
    REQUIRE(off.size() == 1);
    CHECK(contains(off.front(), "\"feature\":\"push\""));
    CHECK(contains(off.front(), "ditioapiv3"));
    CHECK(lines_with_event(d.err, "sync.run_finished").size() >= 1);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "pending");
    CHECK(server.integration_projects().empty());

    auto c = fx.run({"check"});
    INFO(c.out);
    CHECK(contains(c.out, "feature push: warning ("));
    CHECK(contains(c.out, "feature streams: ok (reportingapiv1)"));

    // The push command alone needs ditioapiv3, which no token carries: exit 3, naming the scope.
    auto p = fx.run({"push"});
    INFO(p.out << p.err);
    CHECK(p.exit_code == 3);
    CHECK(contains(p.out + p.err, "ditioapiv3"));
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "pending");
}

TEST_CASE("e2e live: a token without a scope field that lacks ditioapiv3 leaves push rows pending")
{
    auto o = small();
    o.server.allowed_scopes = {"reportingapiv1"};
    o.server.narrow_scopes = true;
    o.server.omit_scope_field = true;
    fixture fx(o);
    auto& server = fx.server();
    server.set_wrong_scope_status(403);
    auto r = fx.run({"push", "project", "--number", "P-1", "--name", "Bru"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "pending");
    CHECK(lines_with_event(r.err, "push.failed").empty());
}

TEST_CASE("e2e live: push.company_id writes to that company and filters no extraction request")
{
    fixture fx(small());
    auto& server = fx.server();
    auto r = fx.run({"push", "project", "--number", "P-1", "--name", "Bru"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(server.integration_projects().size() == 1);
    CHECK(contains(server.integration_projects().front().json, company));
    server.clear_requests();
    auto s = fx.run({"sync"});
    REQUIRE(s.exit_code == 0);
    auto pages = page_requests(server);
    REQUIRE_FALSE(pages.empty());
    for (const auto& p : pages)
        CHECK(p.query.count("companyid") == 0);
    CHECK(lines_with_event(s.err, "config.deprecated_key").empty());
}

TEST_CASE("e2e live: the old ditio.company_id still does both, with a warning that says what to write")
{
    fixture_options o;
    o.records = 50;
    o.settings["ditio.company_id"] = fmt::format("\"{}\"", company);
    fixture fx(o);
    auto& server = fx.server();
    auto s = fx.run({"sync"});
    INFO(s.err);
    REQUIRE(s.exit_code == 0);
    auto warned = lines_with_event(s.err, "config.deprecated_key");
    REQUIRE(warned.size() == 1);
    CHECK(contains(warned.front(), "\"level\":\"warn"));
    CHECK(contains(warned.front(), "[push] company_id"));
    CHECK(contains(warned.front(), "[sync] company_id"));
    for (const auto& p : page_requests(server))
        CHECK(p.query.count("companyid") == 1);
    auto r = fx.run({"push", "project", "--number", "P-1", "--name", "Bru"});
    CHECK(r.exit_code == 0);

    SUBCASE("sync.company_id = \"\" turns the filter off, the push company stays")
    {
        fx.set_setting("sync.company_id", "\"\"");
        server.clear_requests();
        REQUIRE(fx.run({"sync"}).exit_code == 0);
        for (const auto& p : page_requests(server))
            CHECK(p.query.count("companyid") == 0);
    }
}

TEST_SUITE_END();

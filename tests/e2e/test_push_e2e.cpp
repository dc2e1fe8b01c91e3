// The outbox end to end: ditio-sync push (and the daemon) against the fake Integration API over TLS, with
// the outcome checked in the fake's store, in the writes it saw, and in the real SQLite file.
#include "harness.hpp"

#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>

using namespace ditio_sync;
using namespace ditio_sync::e2e;

namespace {

constexpr const char* company = "5f0c3a9e1d2b4c6a8e0f1a2b"; // the fake's company

fixture_options push_options()
{
    fixture_options o;
    o.records = 50;
    o.settings["push.company_id"] = fmt::format("\"{}\"", company);
    return o;
}

// Runs SQL against the mirror as another program would (its own connection).
void exec_sql(const std::filesystem::path& db, const std::string& sql)
{
    SQLite::Database c(db.string(), SQLite::OPEN_READWRITE);
    c.setBusyTimeout(5000);
    c.exec(sql);
}

// Integration API writes with `method` whose path ends with `path` (or, with `anywhere`, contains it).
std::size_t count_writes(
    const testing::fake_ditio& server,
    const std::string& method,
    const std::string& path,
    bool anywhere = false
)
{
    auto w = server.integration_writes();
    return static_cast<std::size_t>(std::count_if(
        w.begin(),
        w.end(),
        [&](const testing::integration_write& x) {
            return x.method == method &&
                   (anywhere ? x.path.find(path) != std::string::npos : x.path.ends_with(path));
        }
    ));
}

// Migrates, starts the daemon and waits until it runs.
child start_daemon(fixture& fx)
{
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "app.started", 1, std::chrono::seconds{30}));
    return daemon;
}

std::string project_sql(
    const std::string& number,
    const std::string& name,
    const std::string& more_cols = "",
    const std::string& more_vals = ""
)
{
    return fmt::format(
        "INSERT INTO outbox_projects (company_id, project_number, name{}) VALUES ('{}', '{}', '{}'{});",
        more_cols,
        company,
        number,
        name,
        more_vals
    );
}

std::string
work_order_sql(const std::string& project, const std::string& external_id, const std::string& name)
{
    return fmt::format(
        "INSERT INTO outbox_work_orders (company_id, project_number, external_id, name) VALUES ('{}', '{}', "
        "'{}', '{}');",
        company,
        project,
        external_id,
        name
    );
}

} // namespace

TEST_SUITE_BEGIN("e2e-push");

TEST_CASE("e2e push: push project creates it once; pushing it again creates nothing")
{
    fixture fx(push_options());
    auto& server = fx.server();
    auto r = fx.run({"push", "project", "--number", "P-1001", "--name", "Prosjekt Fjellhall"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto projects = server.integration_projects();
    REQUIRE(projects.size() == 1);
    CHECK(projects[0].key == "P-1001");
    CHECK(projects[0].json.find("\"name\":\"Prosjekt Fjellhall\"") != std::string::npos);
    CHECK(projects[0].json.find("\"active\":true") != std::string::npos); // Ditio's default is inactive
    CHECK(r.out.find("project P-1001: sent (Ditio id " + projects[0].id + ")") != std::string::npos);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "sent");
    CHECK(query_text(fx.db(), "SELECT ditio_id FROM outbox_projects") == projects[0].id);
    CHECK(query_int(fx.db(), "SELECT attempts FROM outbox_projects") == 1);
    CHECK(query_int(fx.db(), "SELECT sent_at IS NOT NULL FROM outbox_projects") == 1);
    check_no_leaks(fx, r.err);

    // Nothing pending: no request at all.
    auto writes = server.integration_writes().size();
    auto again = fx.run({"push"});
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("0 sent, 0 failed, 0 still pending") != std::string::npos);
    CHECK(server.integration_writes().size() == writes);

    // The same project asked for again: Ditio's idempotent POST finds it; nothing is changed or added.
    auto repeat = fx.run({"push", "project", "--number", "P-1001", "--name", "Prosjekt Fjellhall"});
    INFO(repeat.err);
    CHECK(repeat.exit_code == 0);
    CHECK(server.integration_projects().size() == 1);
    CHECK(count_writes(server, "POST", "/integration/projects") == 2);
    CHECK(server.integration_writes().back().status == 200);
    CHECK(count_writes(server, "PATCH", "/integration/projects/", true) == 0);
    CHECK(count_writes(server, "PUT", "/integration/", true) == 0);
    CHECK(count_writes(server, "DELETE", "/integration/", true) == 0);
}

TEST_CASE("e2e push: a changed row goes out again as a PATCH of the changed fields only")
{
    fixture fx(push_options());
    auto& server = fx.server();
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(fx.db(), project_sql("P-2001", "Riggplass", ", description", ", 'first'"));
    REQUIRE(fx.run({"push"}).exit_code == 0);
    REQUIRE(server.integration_projects().size() == 1);
    auto id = server.integration_projects()[0].id;

    // Someone edits the row: it is pending again, with a new revision.
    exec_sql(fx.db(), "UPDATE outbox_projects SET name = 'Riggplass Nord', active = 0");
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "pending");
    CHECK(query_int(fx.db(), "SELECT revision FROM outbox_projects") == 1);
    // A write of the same values is not a change.
    exec_sql(fx.db(), "UPDATE outbox_projects SET description = 'first'");
    CHECK(query_int(fx.db(), "SELECT revision FROM outbox_projects") == 1);

    auto r = fx.run({"push"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("1 sent, 0 failed, 0 still pending") != std::string::npos);
    auto writes = server.integration_writes();
    REQUIRE(writes.size() == 3);
    CHECK(writes[1].method == "POST");
    CHECK(writes[1].status == 200); // the existing project, unchanged by POST
    CHECK(writes[2].method == "PATCH");
    CHECK(writes[2].path.ends_with("/integration/projects/" + id));
    CHECK(writes[2].body.find("Riggplass Nord") != std::string::npos);
    CHECK(writes[2].body.find("\"active\":false") != std::string::npos);
    CHECK(writes[2].body.find("description") == std::string::npos); // unchanged fields are not sent
    CHECK(writes[2].body.find("projectNumber") == std::string::npos);
    auto p = server.integration_projects();
    REQUIRE(p.size() == 1);
    CHECK(p[0].json.find("\"name\":\"Riggplass Nord\"") != std::string::npos);
    CHECK(p[0].json.find("\"description\":\"first\"") != std::string::npos);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "sent");
    CHECK(query_text(fx.db(), "SELECT ditio_id FROM outbox_projects") == id);
}

TEST_CASE("e2e push: work orders follow their project, whichever was written first")
{
    fixture fx(push_options());
    auto& server = fx.server();
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    // The work orders are older rows than their project; both go in one transaction.
    exec_sql(
        fx.db(),
        "BEGIN;" + work_order_sql("P-3001", "WO-1", "Graving") +
            work_order_sql("P-3001", "WO-2", "Sprengning") + project_sql("P-3001", "Tunnel") + "COMMIT;"
    );
    auto r = fx.run({"push"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("3 sent, 0 failed, 0 still pending") != std::string::npos);
    auto projects = server.integration_projects();
    auto tasks = server.integration_tasks();
    REQUIRE(projects.size() == 1);
    REQUIRE(tasks.size() == 2);
    CHECK(tasks[0].project_id == projects[0].id);
    CHECK(tasks[1].project_id == projects[0].id);
    auto writes = server.integration_writes();
    REQUIRE(!writes.empty());
    CHECK(writes[0].path.ends_with("/integration/projects"));
    CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_work_orders WHERE status = 'sent'") == 2);
    CHECK(
        query_int(
            fx.db(),
            fmt::format(
                "SELECT count(*) FROM outbox_work_orders WHERE ditio_project_id = '{}'", projects[0].id
            )
        ) == 2
    );
    CHECK(
        query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders WHERE external_id = 'WO-1'") ==
        tasks[0].id
    );

    // A work order for a project that is neither in Ditio nor in the outbox fails with a clear message...
    exec_sql(fx.db(), work_order_sql("P-3999", "WO-9", "Forskaling"));
    auto missing = fx.run({"push"});
    INFO(missing.err);
    CHECK(missing.exit_code == 1);
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_work_orders WHERE external_id = 'WO-9'") == "failed"
    );
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM outbox_work_orders WHERE external_id = 'WO-9'")
            .value_or("")
            .find("P-3999 does not exist in Ditio") != std::string::npos
    );
    // ...and goes out by itself once its project has been pushed.
    exec_sql(fx.db(), project_sql("P-3999", "Forskaling AS"));
    auto later = fx.run({"push"});
    INFO(later.err);
    CHECK(later.exit_code == 0);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_work_orders WHERE external_id = 'WO-9'") == "sent");
    CHECK(server.integration_tasks().size() == 3);
}

TEST_CASE("e2e push: a work order already in Ditio is updated, never duplicated")
{
    fixture fx(push_options());
    auto& server = fx.server();
    REQUIRE(fx.run({"push", "project", "--number", "P-4001", "--name", "Bru"}).exit_code == 0);
    REQUIRE(
        fx.run(
              {"push", "work-order", "--project-number", "P-4001", "--external-id", "WO-1", "--name", "Peler"}
        )
            .exit_code == 0
    );
    REQUIRE(server.integration_tasks().size() == 1);
    auto task_id = server.integration_tasks()[0].id;

    SUBCASE("written again from scratch (a new outbox, another ERP export)")
    {
        exec_sql(
            fx.db(),
            "DELETE FROM outbox_work_orders;" + work_order_sql("P-4001", "WO-1", "Peler og fundament")
        );
        auto r = fx.run({"push"});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(count_writes(server, "POST", "/integration/tasks") == 1);
        CHECK(count_writes(server, "PATCH", "/integration/tasks/" + task_id) == 1);
        CHECK(query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders") == task_id);
    }
    SUBCASE("a POST whose answer was lost is not repeated blind: the lookup finds what it created")
    {
        testing::fault cut; // the write happens, the answer is cut off
        cut.what = testing::fault::kind::truncate;
        cut.path_suffix = "/api/v4/integration/tasks";
        server.inject(cut);
        auto r = fx.run(
            {"push", "work-order", "--project-number", "P-4001", "--external-id", "WO-2", "--name", "Pilar"}
        );
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(count_writes(server, "POST", "/integration/tasks") == 2);
        CHECK(count_writes(server, "PATCH", "/integration/tasks/", true) == 0);
        CHECK(server.integration_tasks().size() == 2);
        CHECK(
            query_text(fx.db(), "SELECT status FROM outbox_work_orders WHERE external_id = 'WO-2'") == "sent"
        );
        CHECK(
            query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders WHERE external_id = 'WO-2'") ==
            server.integration_tasks()[1].id
        );
    }
    SUBCASE("a POST whose kept-alive connection drops before any answer is not sent again by the transport")
    {
        testing::fault drop; // the write happens, then the connection is gone without a byte of answer
        drop.what = testing::fault::kind::reset_after;
        drop.path_suffix = "/api/v4/integration/tasks";
        server.inject(drop);
        auto r = fx.run(
            {"push", "work-order", "--project-number", "P-4001", "--external-id", "WO-2", "--name", "Pilar"}
        );
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(count_writes(server, "POST", "/integration/tasks") == 2); // WO-1's and this one: once
        CHECK(server.integration_tasks().size() == 2);
        CHECK(
            query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders WHERE external_id = 'WO-2'") ==
            server.integration_tasks()[1].id
        );
    }
    SUBCASE("a POST answered 503 (not applied) is asked again after the lookup")
    {
        server.inject(status_fault(503, 1, {}, "/api/v4/integration/tasks"));
        fx.set_setting("http.retry_initial", "\"10ms\"");
        auto r = fx.run(
            {"push", "work-order", "--project-number", "P-4001", "--external-id", "WO-3", "--name", "Dekke"}
        );
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(lines_with_event(r.err, "push.create_retry").size() == 1);
        CHECK(count_writes(server, "POST", "/integration/tasks") == 3);
        CHECK(server.integration_tasks().size() == 2);
        CHECK(
            query_text(fx.db(), "SELECT status FROM outbox_work_orders WHERE external_id = 'WO-3'") == "sent"
        );
    }
    CHECK(server.integration_projects().size() == 1);
}

TEST_CASE(
    "e2e push: a validation failure is recorded with Ditio's message and not retried until the row changes"
)
{
    fixture fx(push_options());
    auto& server = fx.server();
    server.set_external_project_numbers(std::vector<std::string>{"EXT-100", "EXT-200"});
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(
        fx.db(),
        project_sql("P-5001", "Kai", ", external_project_number", ", 'EXT-999'") +
            project_sql("P-5002", "Molo")
    );
    auto r = fx.run({"push"});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("0 sent, 2 failed, 0 still pending") != std::string::npos);
    auto error =
        query_text(fx.db(), "SELECT last_error FROM outbox_projects WHERE project_number = 'P-5001'");
    CHECK(
        error.value_or("").find("Extern prosjektnummer EXT-999 er ikke en gyldig. Velg fra listen") !=
        std::string::npos
    );
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-5001'") == "failed"
    );
    CHECK(lines_with_event(r.err, "push.failed").size() == 2);
    CHECK(server.integration_projects().empty());

    // Failed rows are not tried again by themselves.
    auto writes = server.integration_writes().size();
    CHECK(fx.run({"push"}).exit_code == 0);
    CHECK(server.integration_writes().size() == writes);

    // Fixing the row makes it pending; this time it goes out.
    exec_sql(
        fx.db(),
        "UPDATE outbox_projects SET external_project_number = 'EXT-200' WHERE project_number = 'P-5001'"
    );
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM outbox_projects WHERE project_number = 'P-5001'") ==
        std::nullopt
    );
    auto fixed = fx.run({"push"});
    INFO(fixed.err);
    CHECK(fixed.exit_code == 0);
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-5001'") == "sent"
    );
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-5002'") == "failed"
    );
    REQUIRE(server.integration_projects().size() == 1);

    // status shows the outbox beside the streams.
    auto st = fx.run({"status", "--json"});
    REQUIRE(st.exit_code == 0);
    auto doc = boost::json::parse(st.out);
    CHECK(doc.at("outbox").at("projects").at("sent").as_int64() == 1);
    CHECK(doc.at("outbox").at("projects").at("failed").as_int64() == 1);
    CHECK(doc.at("outbox").at("work_orders").at("pending").as_int64() == 0);
    auto text = fx.run({"status"});
    CHECK(text.out.find("  projects:              1 sent, 0 pending, 1 failed\n") != std::string::npos);
    CHECK(text.out.find("work orders:") == std::string::npos); // none written
}

TEST_CASE("e2e push: 5xx, 429 and resets are retried; a pass out of retries leaves the row pending")
{
    fixture fx(push_options());
    auto& server = fx.server();
    server.inject(status_fault(503, 2, {}, "/api/v4/integration/projects"));
    server.inject(status_fault(429, 1, {}, "/api/v4/integration/projects"));
    testing::fault reset;
    reset.what = testing::fault::kind::reset;
    reset.path_suffix = "/api/v4/integration/projects";
    server.inject(reset);
    fx.set_setting("http.retry_initial", "\"10ms\"");
    fx.set_setting("http.retry_max", "\"50ms\"");
    auto r = fx.run({"push", "project", "--number", "P-6001", "--name", "Vei"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    // A reset on a kept-alive connection is retried on a fresh one by the HTTP client itself.
    CHECK(lines_with_event(r.err, "http.retry").size() >= 3);
    CHECK(count_writes(server, "POST", "/integration/projects") == 5);
    CHECK(server.integration_projects().size() == 1);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "sent");

    // Ditio down for longer than the retries: the row stays pending with the reason, and goes out later.
    fx.set_setting("http.max_retries", "1");
    server.inject(status_fault(502, 2, {}, "/api/v4/integration/projects"));
    auto down = fx.run({"push", "project", "--number", "P-6002", "--name", "Vei 2"});
    INFO(down.err);
    CHECK(down.exit_code == 1);
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-6002'") == "pending"
    );
    CHECK(query_int(fx.db(), "SELECT attempts FROM outbox_projects WHERE project_number = 'P-6002'") == 1);
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM outbox_projects WHERE project_number = 'P-6002'")
            .value_or("")
            .find("502") != std::string::npos
    );
    auto later = fx.run({"push"});
    CHECK(later.exit_code == 0);
    CHECK(
        query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-6002'") == "sent"
    );
    CHECK(server.integration_projects().size() == 2);
}

TEST_CASE("e2e push: SIGKILL between a write and its recording creates no duplicate")
{
    fixture fx(push_options());
    auto& server = fx.server();
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    exec_sql(fx.db(), project_sql("P-7001", "Kraftstasjon") + work_order_sql("P-7001", "WO-1", "Rigg"));

    for (std::uint64_t nth : {1, 2}) { // the project's POST, then the work order's
        CAPTURE(nth);
        server.hold_integration_write(nth); // the second run POSTs the project again first
        auto c = fx.start({"push"});
        REQUIRE(server.wait_until_held(std::chrono::seconds{30}));
        c.kill(SIGKILL);
        c.wait();
        server.release();
        // Ditio has it; the outbox does not know yet.
        CHECK(
            query_int(fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'sent'") ==
            (nth == 1 ? 0 : 1)
        );
        CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_work_orders WHERE status = 'sent'") == 0);
    }
    auto r = fx.run({"push"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(server.integration_projects().size() == 1);
    CHECK(server.integration_tasks().size() == 1);
    CHECK(count_writes(server, "POST", "/integration/tasks") == 1); // found by the lookup, not created again
    CHECK(query_int(fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'sent'") == 1);
    CHECK(query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders") == server.integration_tasks()[0].id);
}

TEST_CASE("e2e push: a client without the ditioapiv3 scope exits 3 and keeps the rows pending")
{
    auto o = push_options();
    o.settings["ditio.scope"] = "\"reportingapiv1\"";
    fixture fx(o);
    auto r = fx.run({"push", "project", "--number", "P-8001", "--name", "Skole"});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(query_text(fx.db(), "SELECT status FROM outbox_projects") == "pending");
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM outbox_projects").value_or("").find("ditioapiv3") !=
        std::string::npos
    );
    CHECK(fx.server().integration_projects().empty());
    check_no_leaks(fx, r.err);
}

TEST_CASE("e2e push: the daemon pushes new rows within seconds and push project waits for it")
{
    auto o = push_options();
    o.settings["push.check_every"] = "\"200ms\"";
    fixture fx(o);
    auto daemon = start_daemon(fx);
    exec_sql(fx.db(), project_sql("P-9001", "Hall"));
    CHECK(wait_for_count(
        fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'sent'", 1, std::chrono::seconds{10}
    ));
    // With the daemon holding the database, push project leaves the row to it and reports the outcome.
    auto r =
        fx.run({"push", "work-order", "--project-number", "P-9001", "--external-id", "WO-1", "--name", "Tak"}
        );
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("work order P-9001/WO-1: sent") != std::string::npos);
    daemon.kill(SIGTERM);
    auto d = daemon.wait();
    CHECK(d.exit_code == 0);
    CHECK(lines_with_event(d.err, "push.sent").size() == 2);
    CHECK(fx.server().integration_tasks().size() == 1);
}

TEST_CASE("e2e push: the quickstart, P-1001 Prosjekt Fjellhall with WO-001 Graving byggegrop, shows its "
          "hours in the mirror")
{
    auto o = push_options();
    o.settings["sync.streams"] = R"(["time-registrations", "project", "project/work-breakdown-structure"])";
    fixture fx(o);
    auto& server = fx.server();
    auto p = fx.run({"push", "project", "--number", "P-1001", "--name", "Prosjekt Fjellhall"});
    REQUIRE(p.exit_code == 0);
    auto w = fx.run(
        {"push",
         "work-order",
         "--project-number",
         "P-1001",
         "--external-id",
         "WO-001",
         "--name",
         "Graving byggegrop"}
    );
    INFO(w.err);
    REQUIRE(w.exit_code == 0);
    auto project_id = *query_text(fx.db(), "SELECT ditio_id FROM outbox_projects");
    auto task_id = *query_text(fx.db(), "SELECT ditio_id FROM outbox_work_orders");
    server.register_hours(project_id, task_id, 7.5, "2026-11-26");
    server.register_hours(project_id, task_id, 6.0, "2026-11-27");

    auto s = fx.run({"sync"});
    INFO(s.err);
    REQUIRE(s.exit_code == 0);
    CHECK(
        query_text(fx.db(), fmt::format("SELECT name FROM v_projects WHERE id = '{}'", project_id)) ==
        "Prosjekt Fjellhall"
    );
    // The row the README shows.
    CHECK(
        query_text(
            fx.db(),
            "SELECT project_number || '|' || wbs_number || '|' || task_name || '|' || hours || '|' || "
            "registrations "
            "FROM v_work_order_hours WHERE project_number = 'P-1001'"
        ) == "P-1001|WO-001|Graving byggegrop|13.5|2"
    );
    CHECK(
        query_text(fx.db(), "SELECT task_id FROM v_work_order_hours WHERE project_number = 'P-1001'") ==
        task_id
    );
}

TEST_CASE("e2e push: a 404 answer to a write marks the row failed; a client without ditioapiv3 fails none")
{
    fixture fx(push_options());
    auto& server = fx.server();
    REQUIRE(fx.run({"push", "project", "--number", "P-1101", "--name", "Lager"}).exit_code == 0);

    SUBCASE("404: a parent work order Ditio does not have")
    {
        exec_sql(
            fx.db(),
            work_order_sql("P-1101", "WO-1", "Reol") +
                "UPDATE outbox_work_orders SET extra = '{\"parentActivityId\": \"no-such-task\"}';"
        );
        auto r = fx.run({"push"});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK(query_text(fx.db(), "SELECT status FROM outbox_work_orders") == "failed");
        CHECK(
            query_text(fx.db(), "SELECT last_error FROM outbox_work_orders").value_or("").find("HTTP 404") ==
            0
        );
        CHECK(server.integration_tasks().empty());
    }
    SUBCASE("a client without the Integration API's scope: the row waits, exit 3")
    {
        // An explicit ditio.scope is asked for as written; the token then lacks ditioapiv3.
        server.set_wrong_scope_status(403);
        fx.set_setting("ditio.scope", "\"reportingapiv1\"");
        auto r = fx.run({"push", "project", "--number", "P-1102", "--name", "Lager 2"});
        INFO(r.err);
        CHECK(r.exit_code == 3);
        CHECK(
            query_text(fx.db(), "SELECT status FROM outbox_projects WHERE project_number = 'P-1102'") ==
            "pending"
        );
        CHECK(
            query_text(fx.db(), "SELECT last_error FROM outbox_projects WHERE project_number = 'P-1102'")
                .value_or("")
                .find("ditioapiv3") != std::string::npos
        );
        CHECK(server.integration_projects().size() == 1);
    }
}

TEST_CASE("e2e push: after a failed pass the daemon waits for push.interval, however often others commit")
{
    auto o = push_options();
    o.settings["push.check_every"] = "\"100ms\"";
    o.settings["push.interval"] = "\"3s\"";
    o.settings["http.max_retries"] = "0";
    fixture fx(o);
    auto& server = fx.server();
    server.inject(status_fault(503, 1, {}, "/api/v4/integration/projects"));
    auto daemon = start_daemon(fx);
    exec_sql(fx.db(), project_sql("P-1201", "Verksted"));
    REQUIRE(wait_for_event(daemon, "push.stopped", 1, std::chrono::seconds{10}));
    // Other programs keep committing (a new row, an unrelated table): no pass before the interval.
    exec_sql(
        fx.db(),
        project_sql("P-1202", "Verksted 2") + "CREATE TABLE scratch (x); INSERT INTO scratch VALUES (1);"
    );
    CHECK(wait_for_count(
        fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'sent'", 2, std::chrono::seconds{15}
    ));
    daemon.kill(SIGTERM);
    auto d = daemon.wait();
    CHECK(d.exit_code == 0);
    auto stopped = lines_with_event(d.err, "push.stopped");
    auto summaries = lines_with_event(d.err, "push.summary");
    REQUIRE(stopped.size() == 1);
    REQUIRE(summaries.size() == 2); // the failed pass and the one after the interval, nothing between
    auto at = [](const std::string& line) {
        return util::parse_iso8601(boost::json::parse(line).at("ts").as_string().c_str()).value();
    };
    CHECK(at(summaries[1]) - at(summaries[0]) >= std::chrono::milliseconds{2900});
    CHECK(count_writes(server, "POST", "/integration/projects") == 3);
}

TEST_CASE("e2e push: a database locked by another program during a push costs a pass, not the daemon")
{
    auto o = push_options();
    o.settings["push.check_every"] = "\"100ms\"";
    o.settings["push.interval"] = "\"1s\"";
    o.settings["storage.busy_timeout"] = "\"200ms\"";
    fixture fx(o);
    auto& server = fx.server();
    auto daemon = start_daemon(fx);
    server.hold_integration_write(1);
    exec_sql(fx.db(), project_sql("P-1301", "Garasje"));
    REQUIRE(server.wait_until_held(std::chrono::seconds{10}));
    {
        // The project is created in Ditio while this program holds the write lock.
        SQLite::Database other(fx.db().string(), SQLite::OPEN_READWRITE);
        // The daemon may be committing a page of its syncs this instant: wait for it, as any program would.
        other.setBusyTimeout(30'000);
        other.exec("BEGIN IMMEDIATE");
        server.release();
        CHECK(wait_for_event(daemon, "push.database_error", 1, std::chrono::seconds{10}));
        other.exec("ROLLBACK");
    }
    CHECK(wait_for_count(
        fx.db(), "SELECT count(*) FROM outbox_projects WHERE status = 'sent'", 1, std::chrono::seconds{15}
    ));
    CHECK_FALSE(daemon.exited());
    daemon.kill(SIGTERM);
    CHECK(daemon.wait().exit_code == 0);
    CHECK(server.integration_projects().size() == 1);
}

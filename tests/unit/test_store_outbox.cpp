// Unit tests for migrations/0003_outbox.sql and store/outbox.hpp: desired fields as the Integration API names
// them, the triggers that make a changed row pending again, the revision guard on outcomes, and
// sync::changed_fields (what a PATCH sends).
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/outbox.hpp>
#include <ditio_sync/sync/pusher.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <string>

namespace {

namespace store = ditio_sync::store;
namespace json = boost::json;
using store::outbox_kind;

SQLite::Database migrated_db()
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    return db;
}

std::string text(SQLite::Database& db, const std::string& sql)
{
    auto c = db.execAndGet(sql);
    return c.isNull() ? "NULL" : c.getString();
}

const std::string now = "2026-11-28T07:00:00.000Z";

} // namespace

TEST_CASE("outbox: a project row becomes the Integration API's fields, with NULL columns left out")
{
    auto db = migrated_db();
    db.exec(
        "INSERT INTO outbox_projects (company_id, project_number, name, require_task_number, start_date, "
        "extra) "
        "VALUES ('c1', 'P-1', 'Hall', 1, '2026-03-01T00:00:00Z', "
        "'{\"estimatedHours\": 120, \"name\": \"from extra\", \"projectNumber\": \"P-X\", \"id\": \"x\"}')"
    );
    store::outbox_store s(db);
    auto rows = s.pending(outbox_kind::project);
    REQUIRE(rows.size() == 1);
    const auto& r = rows[0];
    CHECK(r.company_id == "c1");
    CHECK(r.project_number == "P-1");
    CHECK(r.revision == 0);
    CHECK_FALSE(r.ditio_id.has_value());
    // Columns win over `extra`; keys never come from `extra`; active defaults to 1 (Ditio's default is
    // false).
    CHECK(
        json::serialize(r.fields) ==
        R"({"estimatedHours":120,"name":"Hall","active":true,"requireTaskNumber":true,"startDate":"2026-03-01T00:00:00Z"})"
    );
}

TEST_CASE("outbox: a work order row carries its numbers and booleans typed")
{
    auto db = migrated_db();
    db.exec("INSERT INTO outbox_work_orders (company_id, project_number, external_id, name, active, "
            "estimated_hour_qty, measure_unit_qty, unit_id) VALUES ('c1', 'P-1', 'WO-1', 'Graving', 0, 37.5, "
            "0, 'u1')");
    store::outbox_store s(db);
    auto rows = s.pending(outbox_kind::work_order);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].external_id == "WO-1");
    CHECK(
        json::serialize(rows[0].fields) ==
        R"({"name":"Graving","active":false,"estimatedHourQty":3.75E1,"unitId":"u1","measureUnitQty":false})"
    );
}

TEST_CASE("outbox: the tables refuse rows the API would refuse anyway")
{
    auto db = migrated_db();
    CHECK_THROWS(db.exec("INSERT INTO outbox_projects (project_number) VALUES ('P-1')")); // no company
    CHECK_THROWS(
        db.exec("INSERT INTO outbox_projects (company_id, project_number, extra) VALUES ('c', 'P', '[1]')")
    );
    CHECK_THROWS(
        db.exec("INSERT INTO outbox_projects (company_id, project_number, active) VALUES ('c', 'P', 2)")
    );
    CHECK_THROWS(db.exec("INSERT INTO outbox_work_orders (company_id, project_number) VALUES ('c', 'P')"));
    db.exec("INSERT INTO outbox_projects (company_id, project_number) VALUES ('c', 'P')");
    CHECK_THROWS(db.exec("INSERT INTO outbox_projects (company_id, project_number) VALUES ('c', 'P')"));
    CHECK_THROWS(db.exec("UPDATE outbox_projects SET status = 'done'"));
}

TEST_CASE("outbox: changing what a row asks for makes it pending again; the daemon's own writes do not")
{
    auto db = migrated_db();
    db.exec("INSERT INTO outbox_projects (company_id, project_number, name) VALUES ('c', 'P-1', 'Hall')");
    store::outbox_store s(db);
    auto row = s.pending(outbox_kind::project).at(0);
    CHECK(s.mark_failed(row, "HTTP 400: nope", now));
    CHECK(
        text(db, "SELECT status || ' ' || attempts || ' ' || last_error FROM outbox_projects") ==
        "failed 1 HTTP 400: nope"
    );
    CHECK(s.pending(outbox_kind::project).empty());

    SUBCASE("a real change")
    {
        db.exec("UPDATE outbox_projects SET name = 'Hall 2'");
        CHECK(
            text(db, "SELECT status || ' ' || attempts || ' ' || revision FROM outbox_projects") ==
            "pending 0 1"
        );
        CHECK(text(db, "SELECT last_error FROM outbox_projects") == "NULL");
        CHECK(s.pending(outbox_kind::project).size() == 1);
    }
    SUBCASE("the same value written again")
    {
        db.exec("UPDATE outbox_projects SET name = 'Hall'");
        CHECK(text(db, "SELECT status FROM outbox_projects") == "failed");
    }
    SUBCASE("setting a column from NULL")
    {
        db.exec("UPDATE outbox_projects SET description = 'ny'");
        CHECK(text(db, "SELECT status FROM outbox_projects") == "pending");
    }
    SUBCASE("people may retry failed rows by hand")
    {
        db.exec("UPDATE outbox_projects SET status = 'pending' WHERE status = 'failed'");
        CHECK(text(db, "SELECT revision FROM outbox_projects") == "0");
        CHECK(s.pending(outbox_kind::project).size() == 1);
    }
}

TEST_CASE("outbox: an outcome for a row that changed meanwhile leaves it pending, but keeps the Ditio id")
{
    auto db = migrated_db();
    db.exec("INSERT INTO outbox_projects (company_id, project_number, name) VALUES ('c', 'P-1', 'Hall')");
    store::outbox_store s(db);
    auto row = s.pending(outbox_kind::project).at(0);
    db.exec("UPDATE outbox_projects SET name = 'Hall 2'"); // while the push is in flight
    CHECK_FALSE(s.mark_sent(row, "d-1", now));
    CHECK(text(db, "SELECT status || ' ' || ditio_id FROM outbox_projects") == "pending d-1");
    auto again = s.pending(outbox_kind::project).at(0);
    CHECK(again.revision == 1);
    CHECK(s.mark_sent(again, "d-1", now));
    CHECK(
        text(db, "SELECT status || ' ' || attempts || ' ' || sent_at FROM outbox_projects") == "sent 1 " + now
    );

    SUBCASE("a new project number names another project: the id is forgotten")
    {
        db.exec("UPDATE outbox_projects SET project_number = 'P-2'");
        CHECK(text(db, "SELECT ditio_id FROM outbox_projects") == "NULL");
    }
}

TEST_CASE("outbox: work orders waiting for their project are reopened when it is pushed")
{
    auto db = migrated_db();
    db.exec(
        "INSERT INTO outbox_work_orders (company_id, project_number, external_id) VALUES ('c', 'P-1', 'A'), "
        "('c', 'P-1', 'B'), ('c', 'P-2', 'C')"
    );
    store::outbox_store s(db);
    auto rows = s.pending(outbox_kind::work_order);
    REQUIRE(rows.size() == 3);
    s.set_ditio_project_id(rows[1], "proj-1"); // B got as far as its project, then Ditio refused it
    for (const auto& r : rows)
        CHECK(s.mark_failed(r, "no", now));
    CHECK(s.reopen_waiting_work_orders("c", "P-1") == 1);
    CHECK(
        text(db, "SELECT group_concat(external_id || ':' || status, ' ') FROM outbox_work_orders") ==
        "A:pending B:failed C:failed"
    );
    // A change of project number resolves the project afresh.
    db.exec("UPDATE outbox_work_orders SET project_number = 'P-3' WHERE external_id = 'B'");
    CHECK(text(db, "SELECT ditio_project_id FROM outbox_work_orders WHERE external_id = 'B'") == "NULL");
}

TEST_CASE("outbox: put_project and put_work_order insert once and make the row pending")
{
    auto db = migrated_db();
    store::outbox_store s(db);
    auto id = s.put_project("c", "P-1", "Hall", store::outbox_active::yes);
    auto row = s.pending(outbox_kind::project).at(0);
    CHECK(s.mark_failed(row, "no", now));
    CHECK(
        s.put_project("c", "P-1", "Hall", store::outbox_active::yes) == id
    ); // asked again, unchanged: tried again
    CHECK(text(db, "SELECT status FROM outbox_projects") == "pending");
    CHECK(s.put_project("c", "P-1", "Hall", store::outbox_active::no) == id);
    CHECK(text(db, "SELECT active || ' ' || revision FROM outbox_projects") == "0 1");
    auto wo = s.put_work_order("c", "P-1", "WO-1", "Graving", store::outbox_active::yes);
    CHECK(s.put_work_order("c", "P-1", "WO-1", "Graving byggegrop", store::outbox_active::yes) == wo);
    CHECK(text(db, "SELECT name FROM outbox_work_orders") == "Graving byggegrop");
    auto outcome = s.outcome(outbox_kind::work_order, wo);
    REQUIRE(outcome.has_value());
    CHECK(outcome->what == "work order P-1/WO-1");
    CHECK(outcome->status == store::outbox_status::pending);
    CHECK_FALSE(s.outcome(outbox_kind::project, id + 100).has_value());
    CHECK(s.any_pending());
    CHECK(s.counts(outbox_kind::project).pending == 1);
}

TEST_CASE("outbox: v_outbox_status counts rows per table and status")
{
    auto db = migrated_db();
    db.exec("INSERT INTO outbox_projects (company_id, project_number, status) VALUES ('c', '1', 'sent'), "
            "('c', '2', "
            "'sent'), ('c', '3', 'failed');"
            "INSERT INTO outbox_work_orders (company_id, project_number, external_id) VALUES ('c', '1', 'A')"
    );
    CHECK(
        text(db, "SELECT group_concat(outbox || ':' || status || ':' || rows, ' ') FROM v_outbox_status") ==
        "projects:failed:1 projects:sent:2 work_orders:pending:1"
    );
}

TEST_CASE("push: changed_fields sends only what Ditio's copy lacks or holds differently")
{
    auto desired =
        json::parse(R"({"name":"Hall","active":true,"estimatedHourQty":8,"startDate":"2026-03-01T00:00:00Z"})"
        )
            .as_object();
    auto actual =
        json::parse(R"({"id":"x","name":"Hall","active":false,"estimatedHourQty":8.0,"projectNumber":"P-1"})")
            .as_object();
    CHECK(
        json::serialize(ditio_sync::sync::changed_fields(desired, actual)) ==
        R"({"active":true,"startDate":"2026-03-01T00:00:00Z"})"
    );
    CHECK(ditio_sync::sync::changed_fields(actual, actual).empty());
}

TEST_CASE("outbox: ids are never reused, so an outcome cannot land on a row deleted and written anew")
{
    auto db = migrated_db();
    store::outbox_store s(db);
    s.put_project("c", "P-1", "Hall", store::outbox_active::yes);
    auto row = s.pending(outbox_kind::project).at(0);
    // An ERP export replaces the table while the push of the old row is in flight.
    db.exec(
        "DELETE FROM outbox_projects; INSERT INTO outbox_projects (company_id, project_number, name) VALUES "
        "('c', 'P-1', 'Hall (new)')"
    );
    CHECK_FALSE(s.mark_sent(row, "d-1", now));
    CHECK_FALSE(s.mark_failed(row, "no", now));
    CHECK(
        text(db, "SELECT status || ' ' || (id > " + std::to_string(row.id) + ") FROM outbox_projects") ==
        "pending 1"
    );
    CHECK(text(db, "SELECT ditio_id FROM outbox_projects") == "NULL");
}

TEST_CASE("outbox: the fingerprint of the pending rows changes with every new, edited or reopened row")
{
    auto db = migrated_db();
    store::outbox_store s(db);
    auto empty = s.fingerprint();
    CHECK(empty.pending == 0);
    s.put_project("c", "P-1", "Hall", store::outbox_active::yes);
    auto one = s.fingerprint();
    CHECK(one.pending == 1);
    CHECK_FALSE(one == empty);
    db.exec("CREATE TABLE scratch (x); INSERT INTO scratch VALUES (1)");
    CHECK(s.fingerprint() == one);
    db.exec("UPDATE outbox_projects SET name = 'Hall 2'");
    auto edited = s.fingerprint();
    CHECK_FALSE(edited == one);
    auto row = s.pending(outbox_kind::project).at(0);
    CHECK(s.mark_failed(row, "no", now));
    CHECK(s.fingerprint().pending == 0);
    db.exec("UPDATE outbox_projects SET status = 'pending'");
    CHECK(s.fingerprint() == edited);
    s.put_work_order("c", "P-1", "WO-1", "Graving", store::outbox_active::yes);
    CHECK(s.fingerprint().max_work_order_id == 1);
}

TEST_CASE("outbox: a waiting work order keeps its reason without counting attempts")
{
    auto db = migrated_db();
    store::outbox_store s(db);
    s.put_work_order("c", "P-1", "WO-1", "Graving", store::outbox_active::yes);
    auto row = s.pending(outbox_kind::work_order).at(0);
    CHECK(s.mark_waiting(row, "waiting for project P-1"));
    CHECK_FALSE(s.mark_waiting(row, "waiting for project P-1")); // nothing new: no write
    CHECK(
        text(db, "SELECT status || ' ' || attempts || ' ' || last_error FROM outbox_work_orders") ==
        "pending 0 waiting for project P-1"
    );
}

// Unit tests for store/mirror.hpp (upserts, tombstones, sweep, the typed view) and store/sync_state.hpp
// (run bookkeeping and the one-transaction page commit), on a migrated in-memory database.
#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/mirror.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
namespace store = ditio_sync::store;
using ditio_sync::ditio::record;

const std::string table = "time_registrations";
const std::string stream = "time-registrations";

SQLite::Database migrated_db()
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    return db;
}

// A record's fields live in its page's body; here, in a store that outlives every test (a deque never moves
// them).
std::string_view keep(std::string json)
{
    static std::deque<std::string> bodies;
    return bodies.emplace_back(std::move(json));
}

// A live record as Ditio sends it, built by hand: id, modifiedDateTime, isDeleted false and `extra` fields.
record live(const std::string& id, const std::string& modified, json::object extra = {})
{
    json::object o{{"id", id}, {"modifiedDateTime", modified}, {"isDeleted", false}};
    for (auto& [k, v] : extra)
        o[k] = v;
    record r;
    r.id = keep(id);
    r.modified = keep(modified);
    r.change_key = ditio_sync::util::change_key(modified);
    r.json = keep(json::serialize(o));
    return r;
}

// A tombstone: every field but the identity and times is null, as for time registrations.
record tombstone(const std::string& id, const std::string& modified, const std::string& deleted_at)
{
    json::object o{
        {"id", id},
        {"modifiedDateTime", modified},
        {"isDeleted", true},
        {"deletedDateTime", deleted_at.empty() ? json::value(nullptr) : json::value(deleted_at)},
        {"qty", nullptr},
        {"workDate", nullptr}};
    record r;
    r.id = keep(id);
    r.modified = keep(modified);
    r.deleted = true;
    r.deleted_at = keep(deleted_at);
    r.change_key = std::max(ditio_sync::util::change_key(modified), ditio_sync::util::change_key(deleted_at));
    r.json = keep(json::serialize(o));
    return r;
}

struct row {
    std::optional<std::string> modified_at;
    int is_deleted = -1;
    std::optional<std::string> deleted_at;
    std::string data;
    std::string first_seen_at;
    std::string synced_at;
    std::string change_key;
    std::optional<std::int64_t> seen_run;
};

std::optional<std::string> opt_text(const SQLite::Column& c)
{
    if (c.isNull())
        return std::nullopt;
    return c.getString();
}

std::optional<row> read_row(SQLite::Database& db, const std::string& id)
{
    SQLite::Statement q(
        db,
        "SELECT modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, seen_run "
        "FROM time_registrations WHERE id = ?"
    );
    q.bind(1, id);
    if (!q.executeStep())
        return std::nullopt;
    row r;
    r.modified_at = opt_text(q.getColumn(0));
    r.is_deleted = q.getColumn(1).getInt();
    r.deleted_at = opt_text(q.getColumn(2));
    r.data = q.getColumn(3).getString();
    r.first_seen_at = q.getColumn(4).getString();
    r.synced_at = q.getColumn(5).getString();
    r.change_key = q.getColumn(6).getString();
    if (!q.getColumn(7).isNull())
        r.seen_run = q.getColumn(7).getInt64();
    return r;
}

row must_row(SQLite::Database& db, const std::string& id)
{
    auto r = read_row(db, id);
    REQUIRE_MESSAGE(r.has_value(), "no row for ", id);
    return *r;
}

std::int64_t count_of(SQLite::Database& db, const std::string& sql)
{
    return db.execAndGet(sql).getInt64();
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("mirror: a new record is inserted with its bookkeeping")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    auto r = live("a1", "2026-10-01T06:02:11.123Z", {{"qty", 7.5}});
    auto counts = m.apply({r}, 1, "2026-10-01T07:00:00.000Z");
    CHECK(counts.upserted == 1);
    CHECK(counts.deleted == 0);

    auto got = must_row(db, "a1");
    CHECK(got.modified_at == "2026-10-01T06:02:11.123Z");
    CHECK(got.is_deleted == 0);
    CHECK_FALSE(got.deleted_at.has_value());
    CHECK(got.data == r.json);
    CHECK(got.first_seen_at == "2026-10-01T07:00:00.000Z");
    CHECK(got.synced_at == "2026-10-01T07:00:00.000Z");
    CHECK(got.change_key == "2026-10-01T06:02:11.123000Z");
    CHECK(got.seen_run == 1);
}

TEST_CASE("mirror: versions replace each other only forwards in change time")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    auto v1 = live("a1", "2026-10-01T06:00:00Z", {{"qty", 1}});
    auto v2 = live("a1", "2026-10-01T06:00:00.5Z", {{"qty", 2}});
    m.apply({v1}, 1, "N1");
    m.apply({v2}, 2, "N2");

    SUBCASE("a newer version replaces the data")
    {
        auto got = must_row(db, "a1");
        CHECK(got.data == v2.json);
        CHECK(got.modified_at == "2026-10-01T06:00:00.5Z");
        CHECK(got.synced_at == "N2");
        CHECK(got.first_seen_at == "N1"); // first seen stays
        CHECK(got.seen_run == 2);
    }
    SUBCASE("an older version never overwrites, but the run still saw the row")
    {
        auto counts = m.apply({v1}, 3, "N3");
        CHECK(counts.upserted == 1);
        auto got = must_row(db, "a1");
        CHECK(got.data == v2.json);
        CHECK(got.modified_at == "2026-10-01T06:00:00.5Z");
        CHECK(got.change_key == v2.change_key);
        CHECK(got.synced_at == "N2");
        CHECK(got.seen_run == 3);
    }
    SUBCASE("an older version written with an offset still loses")
    {
        // As raw text "…08:00…" sorts after "…06:00…"; the change key compares the instants.
        auto older = live("a1", "2026-10-01T08:00:00.4+02:00", {{"qty", 99}});
        m.apply({older}, 3, "N3");
        CHECK(must_row(db, "a1").data == v2.json);
    }
    SUBCASE("the same version re-applies")
    {
        auto again = live("a1", "2026-10-01T06:00:00.5Z", {{"qty", 2}, {"description", "re-read"}});
        m.apply({again}, 3, "N3");
        auto got = must_row(db, "a1");
        CHECK(got.data == again.json);
        CHECK(got.synced_at == "N3");
        CHECK(got.seen_run == 3);
    }
}

TEST_CASE("mirror: a tombstone flags the row and keeps its last live data")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    auto v1 = live("a1", "2026-10-01T06:00:00Z", {{"qty", 7.5}, {"workDate", "2026-10-01T00:00:00Z"}});
    m.apply({v1}, 1, "N1");
    auto t = tombstone("a1", "2026-10-02T08:00:00Z", "2026-10-02T08:00:00Z");
    auto counts = m.apply({t}, 2, "N2");
    CHECK(counts.deleted == 1);
    CHECK(counts.upserted == 0);

    auto got = must_row(db, "a1");
    CHECK(got.is_deleted == 1);
    CHECK(got.deleted_at == "2026-10-02T08:00:00Z");
    CHECK(got.data == v1.json);
    CHECK(got.change_key == t.change_key);
    CHECK(got.synced_at == "N2");
    CHECK(got.first_seen_at == "N1");

    SUBCASE("applying the same tombstone again changes nothing")
    {
        m.apply({t}, 3, "N3");
        auto again = must_row(db, "a1");
        CHECK(again.synced_at == "N2");
        CHECK(again.is_deleted == 1);
        CHECK(again.deleted_at == "2026-10-02T08:00:00Z");
        CHECK(again.data == v1.json);
    }
    SUBCASE("a newer live version resurrects the row")
    {
        auto v2 = live("a1", "2026-10-03T09:00:00Z", {{"qty", 8}});
        m.apply({v2}, 3, "N3");
        auto back = must_row(db, "a1");
        CHECK(back.is_deleted == 0);
        CHECK_FALSE(back.deleted_at.has_value());
        CHECK(back.data == v2.json);
        CHECK(back.modified_at == "2026-10-03T09:00:00Z");
    }
    SUBCASE("an older live version does not resurrect it")
    {
        m.apply({v1}, 3, "N3");
        auto still = must_row(db, "a1");
        CHECK(still.is_deleted == 1);
        CHECK(still.deleted_at.has_value());
    }
}

TEST_CASE("mirror: tombstones for unknown ids and out-of-order tombstones")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);

    SUBCASE("an unknown id stores the tombstone itself")
    {
        auto t = tombstone("ghost", "2026-10-02T08:00:00Z", "2026-10-02T08:00:00Z");
        m.apply({t}, 1, "N1");
        auto got = must_row(db, "ghost");
        CHECK(got.is_deleted == 1);
        CHECK(got.data == t.json);
        CHECK(got.deleted_at == "2026-10-02T08:00:00Z");
        CHECK(got.first_seen_at == "N1");
        CHECK(count_of(db, "SELECT count(*) FROM v_time_registrations") == 0);
    }
    SUBCASE("a tombstone without deletedDateTime uses modifiedDateTime as the deletion time")
    {
        auto t = tombstone("ghost", "2026-10-02T08:00:00Z", "");
        m.apply({t}, 1, "N1");
        CHECK(must_row(db, "ghost").deleted_at == "2026-10-02T08:00:00Z");
    }
    SUBCASE("an older tombstone does not delete a newer live row")
    {
        auto v2 = live("a1", "2026-10-05T00:00:00Z", {{"qty", 2}});
        m.apply({v2}, 1, "N1");
        m.apply({tombstone("a1", "2026-10-04T00:00:00Z", "2026-10-04T00:00:00Z")}, 2, "N2");
        auto got = must_row(db, "a1");
        CHECK(got.is_deleted == 0);
        CHECK_FALSE(got.deleted_at.has_value());
        CHECK(got.data == v2.json);
        CHECK(got.synced_at == "N1");
    }
    SUBCASE("a metadata tombstone wins through its deletedDateTime")
    {
        // Its modifiedDateTime is the last edit before deletion, older than the stored version's.
        auto v = live("p1", "2026-01-05T10:00:00Z", {{"name", "Bridge"}});
        m.apply({v}, 1, "N1");
        m.apply({tombstone("p1", "2026-01-05T10:00:00Z", "2026-03-01T12:00:00Z")}, 2, "N2");
        auto got = must_row(db, "p1");
        CHECK(got.is_deleted == 1);
        CHECK(got.deleted_at == "2026-03-01T12:00:00Z");
        CHECK(got.data == v.json);
    }
    SUBCASE("a later tombstone refreshes the deletion time of a deleted row")
    {
        m.apply({tombstone("a1", "2026-10-02T08:00:00Z", "2026-10-02T08:00:00Z")}, 1, "N1");
        m.apply({tombstone("a1", "2026-10-03T08:00:00Z", "2026-10-03T08:00:00Z")}, 2, "N2");
        auto got = must_row(db, "a1");
        CHECK(got.deleted_at == "2026-10-03T08:00:00Z");
        CHECK(got.synced_at == "N2");
    }
}

TEST_CASE("mirror: sweep marks rows the run did not see, inside the window only")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    auto in_a = live("in-a", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-10T00:00:00Z"}});
    auto in_b = live("in-b", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-15T00:00:00Z"}});
    auto edge_from = live("edge-from", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-01T00:00:00Z"}});
    auto edge_to = live("edge-to", "2026-01-01T00:00:00Z", {{"workDate", "2026-12-31T00:00:00Z"}});
    auto before = live("before", "2026-01-01T00:00:00Z", {{"workDate", "2025-12-31T00:00:00Z"}});
    auto after = live("after", "2026-01-01T00:00:00Z", {{"workDate", "2027-01-01T00:00:00Z"}});
    m.apply({in_a, in_b, edge_from, edge_to, before, after}, 1, "N1");
    // Run 2 (the full re-sync) returned only in-b.
    m.apply({in_b}, 2, "N2");

    SUBCASE("windowed")
    {
        auto swept = m.sweep(2, "workDate", "2026-01-01", "2026-12-31T23:59:59Z", "N3");
        CHECK(swept == 3);
        for (const std::string id : {"in-a", "edge-from", "edge-to"}) {
            CAPTURE(id);
            auto got = must_row(db, id);
            CHECK(got.is_deleted == 1);
            CHECK(got.deleted_at == "N3");
            CHECK(got.synced_at == "N3");
        }
        for (const std::string id : {"in-b", "before", "after"}) {
            CAPTURE(id);
            CHECK(must_row(db, id).is_deleted == 0);
        }
        // An inferred deletion keeps the change key, so the same version seen again brings the row back.
        CHECK(must_row(db, "in-a").change_key == in_a.change_key);
        m.apply({in_a}, 3, "N4");
        auto back = must_row(db, "in-a");
        CHECK(back.is_deleted == 0);
        CHECK_FALSE(back.deleted_at.has_value());

        SUBCASE("sweeping again counts only live rows")
        {
            CHECK(m.sweep(2, "workDate", "2026-01-01", "2026-12-31", "N5") == 1); // in-a, seen by run 3 only
        }
    }
    SUBCASE("without a window every unseen live row is marked")
    {
        CHECK(m.sweep(2, "", "", "", "N3") == 5);
        CHECK(must_row(db, "before").is_deleted == 1);
        CHECK(must_row(db, "in-b").is_deleted == 0);
    }
}

TEST_CASE("mirror: v_time_registrations exposes typed columns and hides deleted rows")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    m.apply(
        {live(
             "tr1",
             "2026-03-04T16:00:00Z",
             {{"workDate", "2026-03-04T00:00:00Z"},
              {"startDateTime", "0001-01-01T00:00:00Z"},
              {"stopDateTime", "2026-03-04T15:00:00Z"},
              {"qty", 8},
              {"breakQty", 0.5},
              {"approved", true},
              {"payrollApproved", false},
              {"userName", "Bjørn Ødegård"},
              {"projectName", "Bru over elva"},
              {"projectNumber", "P-100"},
              {"taskName", "Støping"}}
         ),
         live("tr2", "2026-03-04T16:00:00Z", {{"workDate", "2026-03-05T00:00:00Z"}, {"qty", 1.25}}),
         live("gone", "2026-03-04T16:00:00Z", {{"workDate", "2026-03-05T00:00:00Z"}})},
        1,
        "N1"
    );
    m.apply({tombstone("gone", "2026-03-06T00:00:00Z", "2026-03-06T00:00:00Z")}, 2, "N2");

    CHECK(count_of(db, "SELECT count(*) FROM v_time_registrations") == 2);
    CHECK(count_of(db, "SELECT count(*) FROM v_time_registrations WHERE id = 'gone'") == 0);

    SQLite::Statement q(
        db,
        "SELECT work_date, start_at, stop_at, qty, typeof(qty), break_qty, approved, payroll_approved, "
        "locked, user_name, project_name, project_number, task_name, modified_at "
        "FROM v_time_registrations WHERE id = 'tr1'"
    );
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == "2026-03-04");
    CHECK(q.getColumn(1).isNull());
    CHECK(q.getColumn(2).getString() == "2026-03-04T15:00:00Z");
    CHECK(q.getColumn(3).getDouble() == doctest::Approx(8.0));
    CHECK(q.getColumn(4).getString() == "real");
    CHECK(q.getColumn(5).getDouble() == doctest::Approx(0.5));
    CHECK(q.getColumn(6).getInt() == 1);
    CHECK(q.getColumn(7).getInt() == 0);
    CHECK(q.getColumn(8).getInt() == 0); // absent flag reads as 0, not NULL
    CHECK_FALSE(q.getColumn(8).isNull());
    CHECK(q.getColumn(9).getString() == "Bjørn Ødegård");
    CHECK(q.getColumn(10).getString() == "Bru over elva");
    CHECK(q.getColumn(11).getString() == "P-100");
    CHECK(q.getColumn(12).getString() == "Støping");
    CHECK(q.getColumn(13).getString() == "2026-03-04T16:00:00Z");

    CHECK(
        db.execAndGet("SELECT qty FROM v_time_registrations WHERE id = 'tr2'").getDouble() ==
        doctest::Approx(1.25)
    );
    CHECK(db.execAndGet("SELECT approved FROM v_time_registrations WHERE id = 'tr2'").getInt() == 0);
}

TEST_CASE("sync_state: begin_run records the run and its fixed parameters")
{
    auto db = migrated_db();
    store::sync_store s(db);
    CHECK_FALSE(s.load(stream).has_value());

    const std::string params = R"({"mode":"full","query":[["FromDateTime","2020-01-01"]]})";
    auto run = s.begin_run(stream, "full", params, "2026-10-01T06:00:00.000Z");
    auto st = s.load(stream);
    REQUIRE(st.has_value());
    CHECK(st->stream == stream);
    CHECK(st->run_id == run);
    CHECK(st->run_mode == "full");
    CHECK(st->run_params == params);
    CHECK(st->run_local_start == "2026-10-01T06:00:00.000Z");
    CHECK_FALSE(st->run_server_start.has_value());
    CHECK_FALSE(st->continuation_token.has_value());
    CHECK(st->pages_done == 0);
    CHECK_FALSE(st->watermark.has_value());

    SQLite::Statement q(
        db, "SELECT stream, mode, started_at, status, params, finished_at FROM sync_runs WHERE id = ?"
    );
    q.bind(1, run);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == stream);
    CHECK(q.getColumn(1).getString() == "full");
    CHECK(q.getColumn(2).getString() == "2026-10-01T06:00:00.000Z");
    CHECK(q.getColumn(3).getString() == "running");
    CHECK(q.getColumn(4).getString() == params);
    CHECK(q.getColumn(5).isNull());
}

TEST_CASE("sync_state: pages commit records and checkpoint, the last one finishes the run")
{
    auto db = migrated_db();
    store::sync_store s(db);
    auto run = s.begin_run(stream, "full", "{}", "T0");

    std::vector<record> page1{
        live("a1", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-02T00:00:00Z"}}),
        live("a2", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-03T00:00:00Z"}})};
    store::page_commit pc;
    pc.stream = stream;
    pc.table = table;
    pc.run_id = run;
    pc.records = &page1;
    pc.next_token = "tok-1";
    pc.server_start = "Thu, 01 Oct 2026 06:00:00 GMT";
    pc.now = "T1";
    auto r1 = s.commit_page(pc);
    CHECK(r1.upserted == 2);
    CHECK(r1.pages_done == 1);

    auto st = s.load(stream);
    REQUIRE(st.has_value());
    CHECK(st->continuation_token == "tok-1");
    CHECK(st->pages_done == 1);
    CHECK(st->run_server_start == "Thu, 01 Oct 2026 06:00:00 GMT");
    CHECK(st->run_id == run);
    CHECK(s.live_rows(table) == 2);

    // The second page carries another Date; the run's start stays the first one.
    std::vector<record> page2{tombstone("a0", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z")};
    pc.records = &page2;
    pc.next_token = "tok-2";
    pc.server_start = "Thu, 01 Oct 2026 06:00:05 GMT";
    pc.now = "T2";
    auto r2 = s.commit_page(pc);
    CHECK(r2.deleted == 1);
    CHECK(r2.pages_done == 2);
    st = s.load(stream);
    CHECK(st->continuation_token == "tok-2");
    CHECK(st->pages_done == 2);
    CHECK(st->run_server_start == "Thu, 01 Oct 2026 06:00:00 GMT");

    SUBCASE("last page of a full run")
    {
        std::vector<record> page3{live("a3", "2026-01-01T00:00:00Z", {{"workDate", "2026-01-04T00:00:00Z"}})};
        pc.records = &page3;
        pc.next_token.reset();
        pc.server_start.reset();
        pc.now = "T3";
        auto r3 = s.finish_run(pc, {.watermark = "2026-10-01T06:00:00Z", .full = true});
        CHECK(r3.upserted == 1);
        CHECK(r3.pages_done == 3);
        CHECK(r3.swept == 0);

        st = s.load(stream);
        REQUIRE(st.has_value());
        CHECK(st->watermark == "2026-10-01T06:00:00Z");
        CHECK_FALSE(st->run_id.has_value());
        CHECK(st->run_mode.empty());
        CHECK(st->run_params.empty());
        CHECK_FALSE(st->run_server_start.has_value());
        CHECK_FALSE(st->run_local_start.has_value());
        CHECK_FALSE(st->continuation_token.has_value());
        CHECK(st->pages_done == 0);
        CHECK(st->last_success_at == "T3");
        CHECK(st->last_full_sync_at == "T3");
        CHECK_FALSE(st->last_error.has_value());

        SQLite::Statement q(
            db, "SELECT status, finished_at, pages, rows_upserted, rows_deleted FROM sync_runs WHERE id = ?"
        );
        q.bind(1, run);
        REQUIRE(q.executeStep());
        CHECK(q.getColumn(0).getString() == "ok");
        CHECK(q.getColumn(1).getString() == "T3");
        CHECK(q.getColumn(2).getInt() == 3);
        CHECK(q.getColumn(3).getInt() == 3);
        CHECK(q.getColumn(4).getInt() == 1);
    }
    SUBCASE("last page of an incremental run keeps last_full_sync_at")
    {
        std::vector<record> none;
        pc.records = &none;
        pc.next_token.reset();
        pc.now = "T3";
        s.finish_run(pc, {.watermark = "W", .full = false});
        st = s.load(stream);
        CHECK(st->watermark == "W");
        CHECK_FALSE(st->last_full_sync_at.has_value());
        CHECK(st->last_success_at == "T3");
    }
    SUBCASE("last page with a sweep counts the swept rows as deleted")
    {
        // a1 and a2 were seen by this run; an older row from an earlier run was not.
        store::mirror_table m(db, table, false);
        m.apply({live("old", "2025-01-01T00:00:00Z", {{"workDate", "2026-01-09T00:00:00Z"}})}, run - 1, "T0");
        std::vector<record> none;
        pc.records = &none;
        pc.next_token.reset();
        pc.now = "T3";
        auto r3 = s.finish_run(
            pc,
            {.watermark = "W",
             .full = true,
             .sweep = true,
             .window_field = "workDate",
             .window_from = "2020-01-01",
             .window_to = "2027-10-01T06:00:00Z"}
        );
        CHECK(r3.swept == 1);
        CHECK(must_row(db, "old").is_deleted == 1);
        CHECK(must_row(db, "a1").is_deleted == 0);
        SQLite::Statement q(db, "SELECT rows_deleted FROM sync_runs WHERE id = ?");
        q.bind(1, run);
        REQUIRE(q.executeStep());
        CHECK(q.getColumn(0).getInt() == 2); // one tombstone + one swept
    }
}

TEST_CASE("sync_state: a commit for a run that is no longer current writes nothing")
{
    auto db = migrated_db();
    store::sync_store s(db);
    auto run = s.begin_run(stream, "full", "{}", "T0");
    s.reset(stream, "T1");

    std::vector<record> page{live("a1", "2026-01-01T00:00:00Z")};
    store::page_commit pc;
    pc.stream = stream;
    pc.table = table;
    pc.run_id = run;
    pc.records = &page;
    pc.next_token = "tok";
    pc.now = "T2";
    CHECK_THROWS_AS(s.commit_page(pc), store::db_error);
    // The page's records were rolled back with the checkpoint.
    CHECK_FALSE(read_row(db, "a1").has_value());
}

TEST_CASE("sync_state: failing, resuming and restarting keep the right parts of the checkpoint")
{
    auto db = migrated_db();
    store::sync_store s(db);
    auto run = s.begin_run(stream, "incremental", R"({"mode":"incremental"})", "T0");
    std::vector<record> page{live("a1", "2026-01-01T00:00:00Z")};
    store::page_commit pc;
    pc.stream = stream;
    pc.table = table;
    pc.run_id = run;
    pc.records = &page;
    pc.next_token = "tok-1";
    pc.server_start = "S";
    pc.now = "T1";
    s.commit_page(pc);

    s.fail_run(stream, run, "HTTP 503: gave up after 7 attempts", "T2");
    auto st = s.load(stream);
    REQUIRE(st.has_value());
    CHECK(st->continuation_token == "tok-1");
    CHECK(st->run_id == run);
    CHECK(st->pages_done == 1);
    CHECK(st->run_params == R"({"mode":"incremental"})");
    CHECK(st->last_error == "HTTP 503: gave up after 7 attempts");
    CHECK(st->last_error_at == "T2");
    {
        SQLite::Statement q(db, "SELECT status, error, finished_at FROM sync_runs WHERE id = ?");
        q.bind(1, run);
        REQUIRE(q.executeStep());
        CHECK(q.getColumn(0).getString() == "failed");
        CHECK(q.getColumn(1).getString() == "HTTP 503: gave up after 7 attempts");
        CHECK(q.getColumn(2).getString() == "T2");
    }

    SUBCASE("resume marks the same run running again")
    {
        s.resume_run(stream, run, "T3");
        SQLite::Statement q(db, "SELECT status, finished_at FROM sync_runs WHERE id = ?");
        q.bind(1, run);
        REQUIRE(q.executeStep());
        CHECK(q.getColumn(0).getString() == "running");
        CHECK(q.getColumn(1).isNull());
        CHECK(s.load(stream)->continuation_token == "tok-1");
    }
    SUBCASE("restart clears the token and the page count, not the run")
    {
        s.restart_run(stream, run, "T3");
        st = s.load(stream);
        CHECK_FALSE(st->continuation_token.has_value());
        CHECK(st->pages_done == 0);
        CHECK(st->run_id == run);
        CHECK(st->run_params == R"({"mode":"incremental"})");
    }
    SUBCASE("a successful last page clears the error")
    {
        std::vector<record> none;
        pc.records = &none;
        pc.next_token.reset();
        pc.now = "T4";
        s.finish_run(pc, {.watermark = "W"});
        st = s.load(stream);
        CHECK_FALSE(st->last_error.has_value());
        CHECK_FALSE(st->last_error_at.has_value());
        CHECK(st->watermark == "W");
    }
    SUBCASE("interrupt marks a running run interrupted")
    {
        s.resume_run(stream, run, "T3");
        s.interrupt_run(stream, run, "T4");
        SQLite::Statement q(db, "SELECT status, finished_at FROM sync_runs WHERE id = ?");
        q.bind(1, run);
        REQUIRE(q.executeStep());
        CHECK(q.getColumn(0).getString() == "interrupted");
        CHECK(q.getColumn(1).getString() == "T4");
        CHECK(s.load(stream)->continuation_token == "tok-1");
    }
}

TEST_CASE("sync_state: reset forgets the watermark and the checkpoint")
{
    auto db = migrated_db();
    store::sync_store s(db);
    auto first = s.begin_run(stream, "full", "{}", "T0");
    std::vector<record> none;
    store::page_commit pc;
    pc.stream = stream;
    pc.table = table;
    pc.run_id = first;
    pc.records = &none;
    pc.now = "T1";
    s.finish_run(pc, {.watermark = "2026-10-01T06:00:00Z"});
    REQUIRE(s.load(stream)->watermark == "2026-10-01T06:00:00Z");

    auto second = s.begin_run(stream, "incremental", "{}", "T2");
    pc.run_id = second;
    pc.next_token = "tok";
    pc.now = "T3";
    s.commit_page(pc);

    s.reset(stream, "T4");
    auto st = s.load(stream);
    REQUIRE(st.has_value());
    CHECK_FALSE(st->watermark.has_value());
    CHECK_FALSE(st->run_id.has_value());
    CHECK_FALSE(st->continuation_token.has_value());
    CHECK(st->pages_done == 0);
    CHECK(st->run_params.empty());
    SQLite::Statement q(db, "SELECT status FROM sync_runs WHERE id = ?");
    q.bind(1, second);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == "interrupted");
    // The finished run's history is left alone.
    CHECK(
        db.execAndGet("SELECT status FROM sync_runs WHERE id = " + std::to_string(first)).getString() == "ok"
    );

    SUBCASE("reset of a stream never run creates its row")
    {
        s.reset("project", "T5");
        auto p = s.load("project");
        REQUIRE(p.has_value());
        CHECK_FALSE(p->watermark.has_value());
    }
}

TEST_CASE("sync_state: load_all lists every stream in name order and record_error creates a row")
{
    auto db = migrated_db();
    store::sync_store s(db);
    CHECK(s.load_all().empty());
    s.begin_run("user", "full", "{}", "T0");
    s.record_error("project", "authentication refused", "T1");
    s.begin_run(stream, "full", "{}", "T2");

    auto all = s.load_all();
    REQUIRE(all.size() == 3);
    CHECK(all[0].stream == "project");
    CHECK(all[1].stream == "time-registrations");
    CHECK(all[2].stream == "user");
    CHECK(all[0].last_error == "authentication refused");
    CHECK(all[0].last_error_at == "T1");
    CHECK_FALSE(all[0].run_id.has_value());
    CHECK(all[1].run_id.has_value());
    CHECK(all[2].run_id.has_value());
    CHECK(*all[1].run_id != *all[2].run_id);
}

TEST_CASE("sync_state: live_rows and deleted_rows count the mirror")
{
    auto db = migrated_db();
    store::sync_store s(db);
    store::mirror_table m(db, table, false);
    m.apply(
        {live("a", "2026-01-01T00:00:00Z"),
         live("b", "2026-01-01T00:00:00Z"),
         live("c", "2026-01-01T00:00:00Z")},
        1,
        "N"
    );
    m.apply({tombstone("b", "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z")}, 2, "N");
    CHECK(s.live_rows(table) == 2);
    CHECK(s.deleted_rows(table) == 1);
}

TEST_CASE("mirror: a failed write leaves the cached statements usable once the fault is gone")
{
    auto db = migrated_db();
    store::mirror_table m(db, table, false);
    // A write fault (as from a full disk) for one id, then the fault goes away.
    db.exec("CREATE TRIGGER fail_writes BEFORE INSERT ON time_registrations WHEN NEW.id = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    std::vector<record> page{live("ok1", "2026-10-01T06:00:00Z"), live("bad", "2026-10-01T06:00:00Z")};
    CHECK_THROWS(m.apply(page, 1, "2026-11-01T00:00:00.000Z"));
    std::vector<record> tomb_page{tombstone("bad", "2026-10-01T06:00:00Z", "2026-10-01T06:00:00Z")};
    CHECK_THROWS(m.apply(tomb_page, 1, "2026-11-01T00:00:00.000Z"));
    db.exec("DROP TRIGGER fail_writes");
    auto counts = m.apply(page, 1, "2026-11-01T00:00:00.000Z");
    CHECK(counts.upserted == 2);
    CHECK(m.apply(tomb_page, 1, "2026-11-01T00:00:01.000Z").deleted == 1);
    CHECK(db.execAndGet("SELECT count(*) FROM time_registrations").getInt() == 2);
}

TEST_SUITE_END();

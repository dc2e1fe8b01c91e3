// Unit tests for images keyed by image and parent (store/mirror.hpp on the images table, migration 0006)
// and the quarantine of records that break the record contract (store/quarantine.hpp through
// store::sync_store's page commits, reset and full re-syncs), on migrated in-memory databases. Records come
// from ditio::parse_page with the catalogue's rules, as in a sync.
#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/quarantine.hpp>
#include <ditio_sync/store/sync_state.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace store = ditio_sync::store;
namespace ditio = ditio_sync::ditio;

SQLite::Database migrated_db()
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    return db;
}

// A parsed page of `stream` that outlives the test (its records point into it).
const ditio::page& parsed(const std::string& stream, const std::string& body)
{
    static std::deque<ditio::page> pages;
    auto& p = pages.emplace_back();
    std::string why;
    const auto* def = ditio::find_stream(stream);
    REQUIRE(def != nullptr);
    REQUIRE_MESSAGE(ditio::parse_page(body, p, why, def->parent), why);
    return p;
}

std::string dump(SQLite::Database& db, const std::string& sql)
{
    SQLite::Statement q(db, sql);
    std::string out;
    while (q.executeStep()) {
        for (int i = 0; i < q.getColumnCount(); ++i)
            out +=
                (i ? "|" : "") + (q.getColumn(i).isNull() ? std::string("NULL") : q.getColumn(i).getString());
        out += "\n";
    }
    return out;
}

// One page of `stream` committed in run `run`; the last page of the run when `end` is set.
store::commit_result commit(
    store::sync_store& s,
    const std::string& stream,
    std::int64_t run,
    const ditio::page& p,
    const std::string& now,
    const std::optional<store::run_end>& end = std::nullopt
)
{
    store::page_commit pc;
    pc.stream = stream;
    pc.table = std::string(ditio::find_stream(stream)->table);
    pc.run_id = run;
    pc.records = &p.records;
    pc.quarantined = &p.quarantined;
    pc.now = now;
    if (end)
        return s.finish_run(pc, *end);
    pc.next_token = "more";
    return s.commit_page(pc);
}

const std::string image_a_feed =
    R"({"id":"img-a","source":"feed","parentId":"post-1","projectId":"P1","fileName":"a.jpg",)"
    R"("modifiedDateTime":"2026-03-01T10:00:00Z","isDeleted":false})";
const std::string image_a_checklist =
    R"({"id":"img-a","source":"checklist","parentId":"chk-7","projectId":"P1","fileName":"a.jpg",)"
    R"("modifiedDateTime":"2026-03-01T10:00:00Z","isDeleted":false})";

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("images: one row per image and parent, each with its own never-overwrite-newer guard")
{
    auto db = migrated_db();
    store::sync_store s(db);
    auto run = s.begin_run("images", "full", "{}", "T0");
    commit(
        s,
        "images",
        run,
        parsed("images", R"({"data":[)" + image_a_feed + "," + image_a_checklist + "]}"),
        "T1"
    );
    CHECK(
        dump(db, "SELECT id, parent_ref, is_deleted FROM images ORDER BY parent_ref") ==
        "img-a|checklist:parentId=chk-7|0\nimg-a|feed:parentId=post-1|0\n"
    );
    CHECK(
        dump(db, "SELECT parent_ref FROM v_images ORDER BY 1") ==
        "checklist:parentId=chk-7\nfeed:parentId=post-1\n"
    );

    // A newer version under one parent changes that row only; an older one changes nothing.
    commit(
        s,
        "images",
        run,
        parsed(
            "images",
            R"({"data":[{"id":"img-a","source":"feed","parentId":"post-1","fileName":"b.jpg",)"
            R"("modifiedDateTime":"2026-03-02T10:00:00Z"},)"
            R"({"id":"img-a","source":"checklist","parentId":"chk-7","fileName":"old.jpg",)"
            R"("modifiedDateTime":"2026-02-01T10:00:00Z"}]})"
        ),
        "T2"
    );
    CHECK(
        dump(db, "SELECT parent_ref, json_extract(data, '$.fileName') FROM images ORDER BY parent_ref") ==
        "checklist:parentId=chk-7|a.jpg\nfeed:parentId=post-1|b.jpg\n"
    );

    SUBCASE("an empty tombstone (only the id) deletes every row of the image that is not newer")
    {
        commit(
            s,
            "images",
            run,
            parsed(
                "images",
                R"({"data":[{"id":"img-a","source":null,"parentId":null,"isDeleted":true,)"
                R"("deletedDateTime":"2026-03-01T12:00:00Z","modifiedDateTime":"2026-03-01T12:00:00Z"}]})"
            ),
            "T3"
        );
        // The feed row changed after the deletion (2026-03-02): it stays; the checklist row goes.
        CHECK(
            dump(db, "SELECT parent_ref, is_deleted, deleted_at FROM images ORDER BY parent_ref") ==
            "checklist:parentId=chk-7|1|2026-03-01T12:00:00Z\nfeed:parentId=post-1|0|NULL\n"
        );
        CHECK(
            dump(db, "SELECT json_extract(data, '$.fileName') FROM images WHERE is_deleted = 1") == "a.jpg\n"
        );
        // The same tombstone again changes nothing; a later one takes the rest.
        commit(
            s,
            "images",
            run,
            parsed(
                "images",
                R"({"data":[{"id":"img-a","isDeleted":true,"deletedDateTime":"2026-03-05T00:00:00Z",)"
                R"("modifiedDateTime":"2026-03-05T00:00:00Z"}]})"
            ),
            "T4"
        );
        CHECK(dump(db, "SELECT count(*) FROM images WHERE is_deleted = 1") == "2\n");
        CHECK(dump(db, "SELECT count(*) FROM v_images") == "0\n");
    }
    SUBCASE("a tombstone that names its parent deletes that row only")
    {
        commit(
            s,
            "images",
            run,
            parsed(
                "images",
                R"({"data":[{"id":"img-a","source":"checklist","parentId":"chk-7","isDeleted":true,)"
                R"("deletedDateTime":"2026-03-09T00:00:00Z","modifiedDateTime":"2026-03-09T00:00:00Z"}]})"
            ),
            "T3"
        );
        CHECK(
            dump(db, "SELECT parent_ref, is_deleted FROM images ORDER BY parent_ref") ==
            "checklist:parentId=chk-7|1\nfeed:parentId=post-1|0\n"
        );
    }
    SUBCASE("an empty tombstone of an unknown image is stored as a row of its own")
    {
        commit(
            s,
            "images",
            run,
            parsed(
                "images",
                R"({"data":[{"id":"img-z","isDeleted":true,"deletedDateTime":"2026-03-09T00:00:00Z",)"
                R"("modifiedDateTime":"2026-03-09T00:00:00Z"}]})"
            ),
            "T3"
        );
        CHECK(dump(db, "SELECT id, parent_ref, is_deleted FROM images WHERE id = 'img-z'") == "img-z||1\n");
    }
    SUBCASE("without a parent id field, rows are told apart by their context")
    {
        commit(
            s,
            "images",
            run,
            parsed(
                "images",
                R"({"data":[{"id":"img-c","source":"alert","projectId":"P1","taskId":"T1","modifiedDateTime":"2026-03-01T00:00:00Z"},)"
                R"({"id":"img-c","source":"alert","projectId":"P2","taskId":"T9","modifiedDateTime":"2026-03-01T00:00:00Z"}]})"
            ),
            "T3"
        );
        CHECK(
            dump(db, "SELECT parent_ref FROM images WHERE id = 'img-c' ORDER BY 1") ==
            "alert:projectId=P1;taskId=T1\nalert:projectId=P2;taskId=T9\n"
        );
    }
}

TEST_CASE("migrations: 0006 moves images to (id, parent_ref) without losing a row")
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const auto& m : store::embedded_migrations())
        if (m.version <= 5)
            db.exec(std::string(m.sql));
    db.exec("PRAGMA user_version = 5");
    db.exec(
        R"(INSERT INTO images (id, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, seen_run) VALUES
        ('i1', 'm1', 0, NULL, '{"id":"i1","source":"feed","parentId":"post-1","projectId":"P","createdDateTime":"2026-03-02T10:15:00Z"}', 'f1', 's1', 'k1', 4),
        ('i2', 'm2', 0, NULL, '{"id":"i2","source":"alert","sourceRecordId":"inc-2","parentId":""}', 'f2', 's2', 'k2', 4),
        ('i3', 'm3', 0, NULL, '{"id":"i3","source":"checklist","projectId":"P","activityId":"A"}', 'f3', 's3', 'k3', NULL),
        ('i4', 'm4', 1, 'd4', '{"id":"i4","source":null,"parentId":null,"isDeleted":true}', 'f4', 's4', 'k4', NULL))"
    );
    db.exec("INSERT INTO sync_state (stream, watermark, overlap_ms) VALUES ('images', "
            "'2026-03-03T00:00:00.000Z', 600000)");
    CHECK(store::migrate(db) == store::latest_schema_version() - 5);
    CHECK(
        dump(
            db,
            "SELECT id, parent_ref, modified_at, is_deleted, deleted_at, first_seen_at, synced_at, "
            "change_key, seen_run FROM images ORDER BY id"
        ) == "i1|feed:parentId=post-1|m1|0|NULL|f1|s1|k1|4\n"
             "i2|alert:sourceRecordId=inc-2|m2|0|NULL|f2|s2|k2|4\n"
             "i3|checklist:projectId=P;activityId=A|m3|0|NULL|f3|s3|k3|NULL\n"
             "i4||m4|1|d4|f4|s4|k4|NULL\n"
    );
    CHECK(
        dump(db, "SELECT group_concat(name) FROM pragma_index_list('images') WHERE origin = 'c'") ==
        "images_created_date\n"
    );
    CHECK(
        dump(db, "SELECT id, created_date, parent_ref FROM v_images ORDER BY id") ==
        "i1|2026-03-02|feed:parentId=post-1\ni2|NULL|alert:sourceRecordId=inc-2\ni3|NULL|checklist:projectId="
        "P;activityId=A\n"
    );
    CHECK(
        dump(db, "SELECT complete_through, quarantined FROM v_sync_freshness") == "2026-03-02T23:50:00Z|0\n"
    );

    // What the daemon computes for the same records matches the migrated keys: the next sync updates these
    // rows instead of adding twins.
    store::sync_store s(db);
    auto run = s.begin_run("images", "incremental", "{}", "T0");
    commit(
        s,
        "images",
        run,
        parsed(
            "images",
            R"({"data":[{"id":"i1","source":"feed","parentId":"post-1","projectId":"P","modifiedDateTime":"2026-04-01T00:00:00Z"},)"
            R"({"id":"i2","source":"alert","sourceRecordId":"inc-2","parentId":"","modifiedDateTime":"2026-04-01T00:00:00Z"},)"
            R"({"id":"i3","source":"checklist","projectId":"P","activityId":"A","modifiedDateTime":"2026-04-01T00:00:00Z"}]})"
        ),
        "T1"
    );
    CHECK(dump(db, "SELECT count(*), count(DISTINCT id) FROM images") == "4|4\n");
}

TEST_CASE("quarantine: records set aside with their page, seen again, superseded, dropped by a full re-sync "
          "and reset")
{
    auto db = migrated_db();
    store::sync_store s(db);
    const std::string stream = "time-registrations";
    auto run = s.begin_run(stream, "full", "{}", "T0");
    const std::string bad_time = R"({"id":"r2","modifiedDateTime":"not a time"})";
    const std::string no_id = R"({"qty":7.5,"modifiedDateTime":"2026-03-01T00:00:00Z"})";
    auto r1 = commit(
        s,
        stream,
        run,
        parsed(
            stream,
            R"({"data":[{"id":"r1","modifiedDateTime":"2026-03-01T00:00:00Z"},)" + bad_time + "," + no_id +
                "]}"
        ),
        "T1"
    );
    CHECK(r1.upserted == 1);
    CHECK(r1.quarantined == 2);
    CHECK(s.quarantined(stream) == 2);
    CHECK(s.live_rows("time_registrations") == 1);
    auto entries = store::quarantine_entries(db, stream);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].record_id == "r2");
    CHECK(entries[0].reason == "modifiedDateTime is not a date-time");
    CHECK(entries[0].data == bad_time);
    CHECK(entries[1].record_id.empty());
    CHECK(entries[1].reason == "no id");
    CHECK(entries[1].data == no_id);
    CHECK(entries[1].first_run == run);
    CHECK(entries[1].times_seen == 1);

    // Seen again: only last seen, last run and the count move.
    auto run2 = s.begin_run(stream, "incremental", "{}", "T2");
    commit(s, stream, run2, parsed(stream, R"({"data":[)" + no_id + "]}"), "T3");
    entries = store::quarantine_entries(db, stream);
    REQUIRE(entries.size() == 2);
    CHECK(entries[1].first_seen_at == "T1");
    CHECK(entries[1].last_seen_at == "T3");
    CHECK(entries[1].first_run == run);
    CHECK(entries[1].last_run == run2);
    CHECK(entries[1].times_seen == 2);

    SUBCASE("a good version of the id supersedes its entry")
    {
        auto r = commit(
            s,
            stream,
            run2,
            parsed(stream, R"({"data":[{"id":"r2","modifiedDateTime":"2026-03-02T00:00:00Z"}]})"),
            "T4"
        );
        CHECK(r.quarantined == 1);
        CHECK(store::quarantine_entries(db, stream).at(0).reason == "no id");
    }
    SUBCASE("a complete full re-sync drops what it no longer returned")
    {
        auto full = s.begin_run(stream, "full", "{}", "T4");
        commit(s, stream, full, parsed(stream, R"({"data":[)" + bad_time + "]}"), "T5");
        auto r = commit(
            s,
            stream,
            full,
            parsed(stream, R"({"data":[]})"),
            "T6",
            store::run_end{.watermark = "W", .full = true}
        );
        CHECK(r.quarantined == 1);
        CHECK(store::quarantine_entries(db, stream).at(0).record_id == "r2");
    }
    SUBCASE("an incremental run's end keeps them")
    {
        auto r =
            commit(s, stream, run2, parsed(stream, R"({"data":[]})"), "T5", store::run_end{.watermark = "W"});
        CHECK(r.quarantined == 2);
    }
    SUBCASE("reset clears the stream's entries, not another stream's")
    {
        auto other = s.begin_run("user", "full", "{}", "T4");
        commit(s, "user", other, parsed("user", R"({"data":[{"name":"x"}]})"), "T5");
        s.reset(stream, "T6");
        CHECK(s.quarantined(stream) == 0);
        CHECK(s.quarantined("user") == 1);
    }
    SUBCASE("v_sync_freshness is not complete through anything while any are kept")
    {
        auto r = commit(
            s,
            stream,
            run2,
            parsed(stream, R"({"data":[]})"),
            "T5",
            store::run_end{.watermark = "2026-03-03T00:00:00.000Z", .overlap_ms = 600000}
        );
        CHECK(r.quarantined == 2);
        CHECK(
            dump(
                db,
                "SELECT watermark, complete_through, quarantined FROM v_sync_freshness WHERE stream = "
                "'time-registrations'"
            ) == "2026-03-03T00:00:00.000Z|NULL|2\n"
        );
        s.reset(stream, "T6");
        CHECK(
            dump(db, "SELECT quarantined FROM v_sync_freshness WHERE stream = 'time-registrations'") == "0\n"
        );
    }
}

TEST_SUITE_END();

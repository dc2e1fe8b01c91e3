// Unit tests for store/migrations.hpp (schema runner) and store/database.hpp (open, WAL, error mapping).
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Transaction.h>
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <support/temp_dir.hpp>

namespace {

namespace fs = std::filesystem;
namespace store = ditio_sync::store;
using namespace std::chrono_literals;

SQLite::Database memory_db()
{
    return SQLite::Database(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
}

// Whether sqlite_master holds an object of this type and name.
bool has_object(SQLite::Database& db, const std::string& type, const std::string& name)
{
    SQLite::Statement q(db, "SELECT count(*) FROM sqlite_master WHERE type = ? AND name = ?");
    q.bind(1, type);
    q.bind(2, name);
    q.executeStep();
    return q.getColumn(0).getInt() == 1;
}

using ditio_sync::testing::temp_dir;

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("migrations: embedded migrations are numbered 1..N without gaps")
{
    const auto& all = store::embedded_migrations();
    REQUIRE_FALSE(all.empty());
    for (std::size_t i = 0; i < all.size(); ++i) {
        CAPTURE(i);
        CHECK(all[i].version == static_cast<int>(i) + 1);
        CHECK_FALSE(all[i].sql.empty());
        CHECK(all[i].name.ends_with(".sql"));
    }
    CHECK(store::latest_schema_version() == all.back().version);
    CHECK(all.front().name == "0001_init.sql");
}

TEST_CASE("migrations: migrate creates the schema on an empty database")
{
    auto db = memory_db();
    CHECK(store::schema_version(db) == 0);
    CHECK(store::migrate(db) == store::latest_schema_version());
    CHECK(store::schema_version(db) == store::latest_schema_version());

    CHECK(has_object(db, "table", "time_registrations"));
    CHECK(has_object(db, "table", "sync_state"));
    CHECK(has_object(db, "table", "sync_runs"));
    CHECK(has_object(db, "view", "v_time_registrations"));
    // The view compiles against the table (a broken column reference would only fail here).
    CHECK(db.execAndGet("SELECT count(*) FROM v_time_registrations").getInt() == 0);

    SUBCASE("a second migrate applies nothing and keeps the version")
    {
        CHECK(store::migrate(db) == 0);
        CHECK(store::schema_version(db) == store::latest_schema_version());
    }
}

TEST_CASE("migrations: a database from a newer ditio-sync is refused")
{
    auto db = memory_db();
    REQUIRE(store::migrate(db) > 0);
    db.exec("PRAGMA user_version = " + std::to_string(store::latest_schema_version() + 1));
    try {
        (void)store::migrate(db);
        FAIL("migrate accepted a newer schema");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::schema_too_new);
        CHECK(
            std::string(e.what()).find(std::to_string(store::latest_schema_version() + 1)) !=
            std::string::npos
        );
    }
    // Refusing must not touch the version.
    CHECK(store::schema_version(db) == store::latest_schema_version() + 1);
}

TEST_CASE("migrations: a fresh database claiming a newer version is refused before any table is created")
{
    auto db = memory_db();
    db.exec("PRAGMA user_version = " + std::to_string(store::latest_schema_version() + 5));
    CHECK_THROWS_AS((void)store::migrate(db), store::db_error);
    CHECK_FALSE(has_object(db, "table", "time_registrations"));
}

TEST_CASE("database: open_database creates the directory and turns WAL on")
{
    temp_dir dir;
    auto path = dir.path() / "nested" / "deeper" / "ditio.db";
    {
        auto db = store::open_database(path, 1000ms, store::open_mode::read_write);
        CHECK(fs::exists(path.parent_path()));
        CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
        CHECK(db.execAndGet("PRAGMA foreign_keys").getInt() == 1);
        CHECK(store::migrate(db) == store::latest_schema_version());
    }
    CHECK(fs::exists(path));
    // The directory holds the database of a daemon: owner only.
    auto perms = fs::status(path.parent_path()).permissions();
    CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);

    SUBCASE("a read-only open sees the migrated schema")
    {
        auto ro = store::open_database(path, 1000ms, store::open_mode::read_only);
        CHECK(store::schema_version(ro) == store::latest_schema_version());
        try {
            ro.exec("INSERT INTO sync_state (stream) VALUES ('x')");
            FAIL("a read-only connection wrote");
        } catch (const SQLite::Exception& e) {
            try {
                store::rethrow_as_db_error(e, "writing");
            } catch (const store::db_error& de) {
                CHECK(de.kind() == store::db_failure::read_only);
            }
        }
    }
}

TEST_CASE("database: a read-only open of a missing file is cannot_open")
{
    temp_dir dir;
    auto path = dir.path() / "missing" / "ditio.db";
    try {
        (void)store::open_database(path, 100ms, store::open_mode::read_only);
        FAIL("opened a missing database");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::cannot_open);
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
    }
    // A read-only open never creates anything.
    CHECK_FALSE(fs::exists(path.parent_path()));
}

TEST_CASE("database: a file that is not a database is corrupt")
{
    temp_dir dir;
    auto path = dir.path() / "junk.db";
    {
        std::ofstream out(path, std::ios::binary);
        out << std::string(4096, 'J');
    }
    try {
        auto db = store::open_database(path, 100ms, store::open_mode::read_write);
        (void)store::migrate(db);
        FAIL("a junk file was used as a database");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::corrupt);
    }
}

TEST_CASE("database: rethrow_as_db_error maps a lock held past the busy timeout to busy")
{
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    auto holder = store::open_database(path, 1000ms, store::open_mode::read_write);
    store::migrate(holder);
    SQLite::Transaction hold(holder, SQLite::TransactionBehavior::IMMEDIATE);

    // The waiter gives up after 50 ms: the only wait in this test, bounded by the timeout under test.
    auto waiter = store::open_database(path, 50ms, store::open_mode::read_write);
    try {
        waiter.exec("INSERT INTO sync_state (stream) VALUES ('time-registrations')");
        FAIL("wrote while another connection held the write lock");
    } catch (const SQLite::Exception& e) {
        try {
            store::rethrow_as_db_error(e, "writing sync_state");
        } catch (const store::db_error& de) {
            CHECK(de.kind() == store::db_failure::busy);
            CHECK(std::string(de.what()).find("writing sync_state") != std::string::npos);
            CHECK(std::string(de.what()).find("busy_timeout") != std::string::npos);
        }
    }

    SUBCASE("guarded does the same translation")
    {
        try {
            store::guarded("committing", [&] {
                waiter.exec("INSERT INTO sync_state (stream) VALUES ('x')");
            });
            FAIL("wrote while another connection held the write lock");
        } catch (const store::db_error& de) {
            CHECK(de.kind() == store::db_failure::busy);
        }
    }
}

TEST_CASE("database: rethrow_as_db_error passes non-SQLite errors through as other")
{
    try {
        store::rethrow_as_db_error(std::runtime_error("boom"), "context");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::other);
        CHECK(std::string(e.what()) == "context: boom");
    }
}

TEST_SUITE_END();

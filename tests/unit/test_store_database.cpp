// Unit tests for store/database.hpp and store/instance_lock.hpp on real files: the mode of a new database,
// one writer whichever path reaches the file, a file deleted under an open database, the integrity check;
// and for the bounds store/sync_state.hpp keeps (error excerpts, run history).
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/sync_state.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <support/temp_dir.hpp>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace store = ditio_sync::store;
using ditio_sync::testing::temp_dir;
using namespace std::chrono_literals;

unsigned mode_of(const fs::path& p)
{
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// Runs f with the process umask set to `mask`, restoring it afterwards.
template <class F> void with_umask(mode_t mask, F f)
{
    auto old = ::umask(mask);
    try {
        f();
    } catch (...) {
        ::umask(old);
        throw;
    }
    ::umask(old);
}

std::string busy_message(const fs::path& db)
{
    try {
        store::instance_lock second(db);
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::busy);
        return e.what();
    }
    return {};
}

std::int64_t runs_of(SQLite::Database& db, const std::string& stream)
{
    SQLite::Statement q(db, "SELECT count(*) FROM sync_runs WHERE stream = ?");
    q.bind(1, stream);
    q.executeStep();
    return q.getColumn(0).getInt64();
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("database: a new database and its -wal and -shm are 0640 whatever the umask")
{
    for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{002}}) {
        CAPTURE(mask);
        temp_dir dir;
        auto path = dir.path() / "sub" / "ditio.db";
        with_umask(mask, [&] {
            auto db = store::open_database(path, 1s, store::open_mode::read_write);
            store::migrate(db);
            CHECK(mode_of(path) == 0640);
            CHECK(mode_of(path.string() + "-wal") == 0640);
            CHECK(mode_of(path.string() + "-shm") == 0640);
            CHECK(mode_of(path.parent_path()) == 0700);
        });
    }
    // An existing file keeps the mode its owner gave it.
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    std::ofstream(path).close();
    fs::permissions(
        path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read
    );
    auto db = store::open_database(path, 1s, store::open_mode::read_write);
    CHECK(mode_of(path) == 0644);
}

TEST_CASE("instance_lock: a second writer is refused through a symlink, a hard link or without the .lock file"
)
{
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    store::instance_lock first(path);
    CHECK(fs::exists(path)); // the lock is on the database file itself
    CHECK(mode_of(path) == 0640);
    auto holder = fmt::format("pid {}", ::getpid());

    CHECK(busy_message(path).find(holder) != std::string::npos);

    fs::create_symlink(path, dir.path() / "link.db");
    CHECK(busy_message(dir.path() / "link.db").find("another ditio-sync") != std::string::npos);

    fs::create_directories(dir.path() / "elsewhere");
    fs::create_hard_link(path, dir.path() / "elsewhere" / "hard.db");
    CHECK(busy_message(dir.path() / "elsewhere" / "hard.db").find("another ditio-sync") != std::string::npos);

    fs::remove(path.string() + ".lock");
    auto msg = busy_message(path);
    CHECK(msg.find("another ditio-sync (pid ?)") != std::string::npos);
}

TEST_CASE("instance_lock: a symlink to a database not created yet creates its target")
{
    temp_dir dir;
    fs::create_directories(dir.path() / "data");
    auto target = dir.path() / "data" / "ditio.db";
    auto link = dir.path() / "ditio.db";
    fs::create_symlink(target, link);
    {
        store::instance_lock lock(link);
        CHECK(fs::exists(target));
        CHECK(mode_of(target) == 0640);
        auto db = store::open_database(link, 1s, store::open_mode::read_write);
        store::migrate(db);
    }
    CHECK(fs::file_size(target) > 0);
}

TEST_CASE("instance_lock: released when its holder goes, and a FIFO is no database")
{
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    {
        store::instance_lock first(path);
    }
    store::instance_lock again(path);
    auto fifo = dir.path() / "fifo.db";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    try {
        store::instance_lock bad(fifo);
        FAIL("a FIFO was locked as a database");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::cannot_open);
        CHECK(std::string(e.what()).find("not a regular file") != std::string::npos);
    }
}

TEST_CASE("database: a file deleted while open is noticed before a commit, and by its path")
{
    temp_dir dir;
    auto path = dir.path() / "state" / "ditio.db";
    auto db = store::open_database(path, 1s, store::open_mode::read_write);
    store::migrate(db);
    auto id = store::file_id_of(path);
    REQUIRE(id);
    CHECK_NOTHROW(store::check_in_place(db));
    CHECK_FALSE(store::database_file_problem(path, *id));
    store::sync_store s(db);
    s.begin_run("time-registrations", "full", "{}", "2026-10-01T06:00:00.000Z");

    fs::remove_all(path.parent_path()); // the directory, as `rm -rf /var/lib/ditio-sync` would
    try {
        store::check_in_place(db);
        FAIL("a deleted database was not noticed");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::gone);
    }
    CHECK_THROWS_AS(s.begin_run("user", "full", "{}", "2026-10-01T06:00:01.000Z"), store::db_error);
    auto problem = store::database_file_problem(path, *id);
    REQUIRE(problem);
    CHECK(problem->find("is gone") != std::string::npos);

    // Another file at the same path is not the one that was opened.
    fs::create_directories(path.parent_path());
    std::ofstream(path).close();
    problem = store::database_file_problem(path, *id);
    REQUIRE(problem);
    CHECK(problem->find("replaced") != std::string::npos);
}

TEST_CASE("database: quick_check finds a page damaged in the middle of the file")
{
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    {
        auto db = store::open_database(path, 1s, store::open_mode::read_write);
        store::migrate(db);
        db.exec("CREATE TABLE filler (x TEXT)");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                "INSERT INTO filler SELECT printf('%.1000c', 'x') || i FROM n");
        CHECK(store::check_integrity(db, store::integrity_check::quick).empty());
        CHECK(store::check_integrity(db, store::integrity_check::thorough).empty());
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    auto size = fs::file_size(path);
    REQUIRE(size > 50 * 32768);
    {
        // Garbage over a page in the middle of the file: one of filler's leaves, far from the schema.
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>((size * 6 / 10) / 32768 * 32768 + 8));
        std::string junk(4000, '\xA5');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    auto db = store::open_database(path, 1s, store::open_mode::read_write);
    CHECK_FALSE(store::check_integrity(db, store::integrity_check::quick).empty());
}

TEST_CASE("database: check_writable tries a write and leaves nothing; a read-only one is refused")
{
    temp_dir dir;
    auto path = dir.path() / "ditio.db";
    {
        auto db = store::open_database(path, 1s, store::open_mode::read_write);
        store::migrate(db);
        CHECK_NOTHROW(store::check_writable(db, path));
        // Rolled back: the probe table is not there, and the database still writes.
        CHECK(
            db.execAndGet("SELECT count(*) FROM sqlite_schema WHERE name = 'ditio_sync_write_check'")
                .getInt() == 0
        );
        CHECK_NOTHROW(store::check_writable(db, path));
        CHECK(store::write_access_problem(path).empty());
    }
    // Reading works, writing does not: the answer `check` used to miss.
    SQLite::Database reader(path.string(), SQLite::OPEN_READONLY);
    try {
        store::check_writable(reader, path);
        FAIL("a read-only connection passed the write check");
    } catch (const store::db_error& e) {
        CHECK(e.kind() == store::db_failure::read_only);
        CHECK(std::string(e.what()).find("trying a write") != std::string::npos);
    }
}

TEST_CASE("sync_state: an error is stored redacted and cut to a few KB")
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    store::sync_store s(db);
    auto run = s.begin_run("time-registrations", "full", "{}", "2026-10-01T06:00:00.000Z");
    std::string huge = "HTTP 500: Authorization: bearer abc.def.ghi " + std::string(50u << 20, 'e');
    s.fail_run("time-registrations", run, huge, "2026-10-01T06:00:01.000Z");
    s.record_error("user", huge, "2026-10-01T06:00:01.000Z");
    for (const auto* sql :
         {"SELECT error FROM sync_runs",
          "SELECT last_error FROM sync_state WHERE stream = 'time-registrations'",
          "SELECT last_error FROM sync_state WHERE stream = 'user'"}) {
        CAPTURE(sql);
        auto stored = db.execAndGet(sql).getString();
        CHECK(stored.size() <= 2048);
        CHECK(stored.find("abc.def.ghi") == std::string::npos);
        CHECK(stored.find("bytes cut]") != std::string::npos);
    }
}

TEST_CASE("sync_state: sync_runs keeps the newest runs per stream and none older than keep_for")
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    store::sync_store s(db);
    store::run_retention keep_five{std::chrono::hours{24 * 90}, 5};
    for (int i = 0; i < 12; ++i) {
        auto now = fmt::format("2026-10-01T06:00:{:02}.000Z", i);
        auto run = s.begin_run("time-registrations", "incremental", "{}", now, keep_five);
        s.fail_run("time-registrations", run, "failed", now);
        s.begin_run("user", "incremental", "{}", now, store::run_retention{std::chrono::hours{24 * 90}, 100});
    }
    CHECK(runs_of(db, "time-registrations") == 5);
    CHECK(runs_of(db, "user") == 12); // another stream's history is its own
    CHECK(
        db.execAndGet("SELECT min(started_at) FROM sync_runs WHERE stream = 'time-registrations'")
            .getString() == "2026-10-01T06:00:07.000Z"
    );

    // 91 days later, only the runs within keep_for stay (the new one).
    s.begin_run(
        "time-registrations", "incremental", "{}", "2026-12-31T06:00:00.000Z", store::run_retention{}
    );
    CHECK(runs_of(db, "time-registrations") == 1);
    // The run in progress is never pruned, however old.
    CHECK(
        db.execAndGet("SELECT count(*) FROM sync_runs r JOIN sync_state s ON s.run_id = r.id").getInt64() == 2
    );
}

TEST_CASE("status: Ditio's messages are shown with their control characters written out")
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    store::sync_store s(db);
    s.record_error(
        "time-registrations",
        "HTTP 400: bad\nrequest\x1b[2J\x1b]0;title\x07 \xc2\x9b"
        "31m red",
        "2026-10-01T06:00:00.000Z"
    );
    auto streams = std::vector<const ditio_sync::ditio::stream_def*>{
        ditio_sync::ditio::find_stream("time-registrations")};
    auto status = ditio_sync::ops::collect_status(db, streams, 10min);
    auto text = ditio_sync::ops::format_status_text(status);
    CAPTURE(text);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.find("\xc2\x9b") == std::string::npos);
    CHECK(text.find("bad\\nrequest\\x1b[2J\\x1b]0;title\\x07 \\u009b31m red") != std::string::npos);
    // JSON output escapes them by its own rules.
    auto json_text = boost::json::serialize(status);
    CHECK(json_text.find('\x1b') == std::string::npos);
}

TEST_SUITE_END();

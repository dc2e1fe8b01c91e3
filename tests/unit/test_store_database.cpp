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

} // namespace

TEST_SUITE_BEGIN("store");

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

// What a hostile server and a careless operator find (issue 12): servers that echo credentials into their
// errors, far-off clocks, continuation tokens that go round in a cycle, errors of 50 MB, control
// characters for the terminal; a secret file that is /dev/zero, a key of 50,000 parts, a second writer
// through another path, a database removed or damaged under ditio-sync, a read-only mount. The real binary
// against the fake Ditio over TLS, the real SQLite file.
#include "harness.hpp"

#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view redacted = "[redacted]";

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

boost::json::object field_of(const std::string& line)
{
    return boost::json::parse(line).as_object();
}

std::string text_field(const std::string& line, std::string_view key)
{
    auto o = field_of(line);
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string{};
}

void exec_sql(const fs::path& db, const std::string& sql)
{
    SQLite::Database c(db.string(), SQLite::OPEN_READWRITE);
    c.setBusyTimeout(5000);
    c.exec(sql);
}

unsigned mode_of(const fs::path& p)
{
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

testing::fault echo_fault(int status, std::string shape, std::string path, int count = 1000)
{
    testing::fault f;
    f.what = testing::fault::kind::echo;
    f.status = status;
    f.body = std::move(shape);
    f.path_suffix = std::move(path);
    f.count = count;
    return f;
}

std::string day_of(std::chrono::system_clock::time_point t)
{
    return util::format_iso8601_s(std::chrono::time_point_cast<std::chrono::microseconds>(t)).substr(0, 10);
}

} // namespace

TEST_SUITE_BEGIN("e2e-hostile");

// ------------------------------------------------------------------------------------ secrets and tokens

TEST_CASE("e2e hostile: an identity server that echoes the request into its errors leaks no client secret")
{
    for (int status : {400, 500}) {
        CAPTURE(status);
        fixture_options o;
        o.records = 100;
        fixture fx(o);
        fx.server().inject(echo_fault(status, "json", "/connect/token"));
        auto sync = fx.run({"sync"});
        INFO(sync.err);
        CHECK(sync.exit_code == 1);
        CHECK(contains(sync.err, "client_secret=[redacted]"));
        auto text = fx.run({"--log-format", "text", "sync"});
        CHECK(text.exit_code == 1);
        auto check = fx.run({"check"});
        CHECK(check.exit_code == 1);
        CHECK(contains(check.out, "token: "));
        CHECK(fx.run({"status"}).exit_code == 0);
        CHECK(fx.run({"status", "--json"}).exit_code == 0);
        auto last_error = query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("");
        CHECK(contains(last_error, redacted));
        auto run_error = query_text(fx.db(), "SELECT error FROM sync_runs ORDER BY id DESC LIMIT 1");
        CHECK(contains(run_error.value_or(""), redacted));
        // What every one of them wrote, and the database, hold neither the secret nor a token.
        auto leaks = fx.leaks();
        CHECK_MESSAGE(leaks.empty(), (leaks.empty() ? "" : leaks.front()));
    }
}

TEST_CASE("e2e hostile: API errors that echo the Authorization header, in any form, leak no token")
{
    for (int status : {400, 403, 500}) {
        for (const auto* shape : {"json", "html"}) {
            CAPTURE(status);
            CAPTURE(shape);
            fixture_options o;
            o.records = 100;
            fixture fx(o);
            fx.server().inject(echo_fault(status, shape, "/v1/time-registrations"));
            auto sync = fx.run({"sync"});
            INFO(sync.err);
            CHECK(sync.exit_code == (status == 403 ? 3 : 1));
            CHECK(!fx.server().issued_tokens().empty());
            CHECK(contains(sync.err, redacted));
            auto status_text = fx.run({"status"});
            CHECK(status_text.exit_code == 0);
            CHECK(contains(status_text.out, "last errors ("));
            auto detail = fx.run({"status", "time-registrations"});
            CHECK(detail.exit_code == 0);
            CHECK(contains(detail.out, "last error:"));
            CHECK(fx.run({"status", "--json"}).exit_code == 0);
            auto leaks = fx.leaks();
            CHECK_MESSAGE(leaks.empty(), (leaks.empty() ? "" : leaks.front()));
        }
    }
}

TEST_CASE("e2e hostile: a secret file others may read is used with a warning; /dev/zero is refused on reload")
{
    fixture_options o;
    o.records = 100;
    o.settings["sync.interval"] = R"("1s")";
    fixture fx(o);
    auto secret_file = fx.dir() / "client_secret";
    {
        std::ofstream(secret_file) << fx.secret() << "\n";
    }
    fs::permissions(secret_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    fx.set_setting("ditio.client_secret_file", fmt::format("\"{}\"", secret_file.string()));
    const std::map<std::string, std::string> no_env_secret{{"DITIO_CLIENT_SECRET", ""}};

    auto check = fx.run({"check"}, no_env_secret);
    INFO(check.err);
    CHECK(check.exit_code == 0);
    auto warned = lines_with_event(check.err, "config.secret_file_readable");
    REQUIRE(warned.size() == 1);
    CHECK(contains(warned[0], "readable by every user of this machine"));
    CHECK_FALSE(contains(warned[0], secret_file.string()));

    // A reload that would read /dev/zero is refused at once; the daemon goes on with the secret it has.
    fs::permissions(secret_file, fs::perms::owner_read | fs::perms::owner_write);
    auto daemon = fx.start({"run"}, no_env_secret);
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));
    CHECK(lines_with_event(daemon.err_so_far(), "config.secret_file_readable").empty());
    fx.set_setting("ditio.client_secret_file", R"("/dev/zero")");
    daemon.kill(SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reload_failed", 1, std::chrono::seconds{30}));
    auto runs = lines_with_event(daemon.err_so_far(), "sync.run_finished").size();
    fx.server().insert(5);
    REQUIRE(wait_for_event(daemon, "sync.run_finished", runs + 1, std::chrono::seconds{60}));
    daemon.kill(SIGTERM);
    auto res = daemon.wait();
    CHECK(res.exit_code == 0);
    auto failed = lines_with_event(res.err, "app.reload_failed");
    REQUIRE(failed.size() == 1);
    CHECK(contains(failed[0], "not a regular file"));
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e hostile: the database and its -wal and -shm are 0640 whatever the umask")
{
    fixture_options o;
    o.records = 100;
    o.settings["sync.interval"] = R"("1h")";
    fixture fx(o);
    auto old_mask = ::umask(000);
    auto daemon = fx.start({"run"});
    ::umask(old_mask);
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));
    CHECK(mode_of(fx.db()) == 0640);
    CHECK(mode_of(fx.db().string() + "-wal") == 0640);
    CHECK(mode_of(fx.db().string() + "-shm") == 0640);
    CHECK(mode_of(fx.db().parent_path()) == 0700);
    daemon.kill(SIGTERM);
    CHECK(daemon.wait().exit_code == 0);
}

// --------------------------------------------------------------------------------- the server's clock

TEST_CASE("e2e hostile: a Date of 2999 on one answer neither becomes the watermark nor freezes the stream")
{
    fixture fx;
    testing::fault f;
    f.what = testing::fault::kind::date;
    f.header = "Tue, 01 Jan 2999 00:00:00 GMT";
    f.path_suffix = "/v1/time-registrations";
    fx.server().inject(f);
    auto first = fx.run({"sync"});
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    auto skew = lines_with_event(first.err, "sync.clock_skew");
    REQUIRE(skew.size() == 1);
    CHECK(text_field(skew[0], "server_date") == "2999-01-01T00:00:00Z");
    CHECK(text_field(skew[0], "local_time").starts_with(day_of(std::chrono::system_clock::now()).substr(0, 4))
    );
    CHECK(text_field(skew[0], "watermark_from") == "local");
    auto tomorrow = day_of(std::chrono::system_clock::now() + std::chrono::hours{24});
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state").value_or("9") < tomorrow);

    // Changes made since then reach the mirror, and status says nothing of 2999.
    fx.server().insert(25);
    fx.server().edit(fx.server().pick_live(10, 3));
    fx.server().remove(fx.server().pick_live(5, 4));
    auto second = fx.run({"sync"});
    INFO(second.err);
    REQUIRE(second.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    CHECK_FALSE(contains(fx.run({"status"}).out, "2999"));
    CHECK_FALSE(contains(fx.run({"status", "time-registrations"}).out, "2999"));
}

TEST_CASE("e2e hostile: a watermark already in the future is repaired with a full sync")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    // As an older version saved it from a Date of 2999.
    exec_sql(fx.db(), "UPDATE sync_state SET watermark = '2999-01-01T00:00:00.000Z'");
    fx.server().insert(20);
    fx.server().edit(fx.server().pick_live(10, 5));
    fx.server().remove(fx.server().pick_live(5, 6));
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto repaired = lines_with_event(res.err, "sync.watermark_repaired");
    REQUIRE(repaired.size() == 1);
    CHECK(text_field(repaired[0], "watermark") == "2999-01-01T00:00:00.000Z");
    auto started = lines_with_event(res.err, "sync.run_started");
    REQUIRE(started.size() == 1);
    CHECK(text_field(started[0], "mode") == "full");
    check_mirror_exact(fx.server(), fx.db());
    auto tomorrow = day_of(std::chrono::system_clock::now() + std::chrono::hours{24});
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state").value_or("9") < tomorrow);
}

TEST_CASE("e2e hostile: a local clock three years behind Ditio loses no record")
{
    fixture_options o;
    o.records = 0;
    fixture fx(o);
    auto& server = fx.server();
    const auto three_years = std::chrono::hours{24 * 1096};
    server.set_clock_offset(three_years);
    // Ditio's own recent registrations, dated in its last 300 days and changed in its last year.
    auto ditio_now = std::chrono::system_clock::now() + three_years;
    server.seed(600, 11, day_of(ditio_now - std::chrono::hours{24 * 300}), day_of(ditio_now));
    auto full = fx.run({"sync"});
    INFO(full.err);
    REQUIRE(full.exit_code == 0);
    auto skew = lines_with_event(full.err, "sync.clock_skew");
    REQUIRE(skew.size() == 1);
    CHECK(text_field(skew[0], "watermark_from") == "local");
    // The full window ends a year after the local clock: the rest comes with the next run, because the
    // watermark is the local clock's too.
    auto next = fx.run({"sync"});
    INFO(next.err);
    REQUIRE(next.exit_code == 0);
    check_mirror_exact(server, fx.db());
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations WHERE is_deleted = 0") == 600);
}

// ------------------------------------------------------------------------------ the server's answers

TEST_CASE("e2e hostile: a continuation-token cycle fails the run, keeps its pages and starts afresh next time"
)
{
    fixture fx; // 2000 records, 100 a page
    auto& server = fx.server();
    auto proc = fx.start_held(3, {"sync"});
    testing::fault cycle;
    cycle.what = testing::fault::kind::token_cycle;
    cycle.path_suffix = "/v1/time-registrations";
    cycle.count = 100000;
    server.inject(cycle);
    server.release();
    auto res = proc.wait();
    INFO(res.err);
    CHECK(res.exit_code == 1);
    auto cycles = lines_with_event(res.err, "sync.token_cycle");
    REQUIRE(cycles.size() == 1);
    // Two real pages, then cycle-a, cycle-b and cycle-a again: never a loop.
    std::size_t data_requests = 0;
    for (const auto& r : server.requests())
        data_requests += r.path.ends_with("/v1/time-registrations") ? 1 : 0;
    CHECK(data_requests == 5);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 200);
    CHECK(query_int(fx.db(), "SELECT run_id IS NULL AND continuation_token IS NULL FROM sync_state") == 1);
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs") == "failed");
    CHECK(contains(query_text(fx.db(), "SELECT error FROM sync_runs").value_or(""), "cycle"));
    CHECK(query_text(fx.db(), "SELECT watermark FROM sync_state") == std::nullopt);

    server.clear_faults();
    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    auto started = lines_with_event(again.err, "sync.run_started");
    REQUIRE(started.size() == 1);
    CHECK(field_of(started[0]).at("resumed").as_bool() == false);
    check_mirror_exact(server, fx.db());
}

TEST_CASE("e2e hostile: an error message of 50 MB costs a few KB of log and database")
{
    fixture_options o;
    o.records = 100;
    fixture fx(o);
    std::string body = R"({"error":"BadRequest","message":")" + std::string(50u << 20, 'm') + "\"}";
    // Windowed: refused on every piece down to a day, each refusal logged with its message.
    fx.server().inject(status_fault(400, 100, body));
    auto res = fx.run({"sync"});
    CHECK(res.exit_code == 1);
    std::istringstream lines(res.err);
    std::size_t longest = 0;
    for (std::string line; std::getline(lines, line);)
        longest = std::max(longest, line.size());
    CHECK(longest < 16 * 1024);
    CHECK(res.err.size() < 64 * 1024);
    auto stored = query_text(fx.db(), "SELECT last_error FROM sync_state").value_or("");
    CHECK(stored.size() <= 2048);
    CHECK(contains(stored, "bytes cut]"));
    CHECK(query_text(fx.db(), "SELECT error FROM sync_runs").value_or("").size() <= 2048);
    std::error_code ec;
    auto on_disk = fs::file_size(fx.db(), ec) + fs::file_size(fx.db().string() + "-wal", ec);
    CHECK(on_disk < 8u << 20);
}

TEST_CASE("e2e hostile: sync_runs keeps storage.keep_runs runs per stream")
{
    fixture_options o;
    o.records = 100;
    o.settings["storage.keep_runs"] = "3";
    o.settings["sync.streams"] = R"(["time-registrations", "user"])";
    fixture fx(o);
    fx.server().seed_streams(20, 3);
    for (int i = 0; i < 5; ++i)
        REQUIRE(fx.run({"sync"}).exit_code == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs WHERE stream = 'time-registrations'") == 3);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs WHERE stream = 'user'") == 3);
    // The newest are the ones kept.
    CHECK(query_int(fx.db(), "SELECT min(id) FROM sync_runs WHERE stream = 'time-registrations'") > 4);
}

TEST_CASE("e2e hostile: status writes out the control characters of Ditio's message")
{
    fixture_options o;
    o.records = 100;
    fixture fx(o);
    // Windowed: refused on every piece down to a day.
    fx.server().inject(status_fault(
        400,
        100,
        R"({"error":"BadRequest","message":"bad\nrequest \u001b[31mRED\u001b[0m \u001b]0;owned\u0007 \u009b2J"})"
    ));
    REQUIRE(fx.run({"sync"}).exit_code == 1);
    // The summary's line of the error and the stream's details alike.
    for (const auto& args : {std::vector<std::string>{"status"}, {"status", "time-registrations"}}) {
        auto status = fx.run(args);
        REQUIRE(status.exit_code == 0);
        CHECK(status.out.find('\x1b') == std::string::npos);
        CHECK(status.out.find('\x07') == std::string::npos);
        CHECK(status.out.find("\xc2\x9b") == std::string::npos);
        CHECK(contains(status.out, "bad\\nrequest \\x1b[31mRED"));
    }
    CHECK(contains(
        fx.run({"status", "time-registrations"}).out,
        "bad\\nrequest \\x1b[31mRED\\x1b[0m \\x1b]0;owned\\x07 \\u009b2J"
    ));
}

// ----------------------------------------------------------------------------- the operator's mistakes

TEST_CASE("e2e hostile: a reload with a key of 50,000 dotted parts is refused and the daemon goes on")
{
    fixture_options o;
    o.records = 100;
    o.settings["sync.interval"] = R"("1s")";
    fixture fx(o);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));
    std::string key = "a";
    for (int i = 0; i < 50'000; ++i)
        key += ".a";
    fx.write_config(key + " = 1\n");
    daemon.kill(SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reload_failed", 1, std::chrono::seconds{30}));
    auto runs = lines_with_event(daemon.err_so_far(), "sync.run_finished").size();
    REQUIRE(wait_for_event(daemon, "sync.run_finished", runs + 1, std::chrono::seconds{60}));
    daemon.kill(SIGTERM);
    auto res = daemon.wait();
    CHECK(res.signal == 0);
    CHECK(res.exit_code == 0);
    CHECK(contains(lines_with_event(res.err, "app.reload_failed").at(0), "dotted key of more than 16 parts"));
}

TEST_CASE("e2e hostile: a second writer is refused through a symlink, a hard link, or with .lock deleted")
{
    fixture_options o;
    o.records = 100;
    o.settings["sync.interval"] = R"("1h")";
    fixture fx(o);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));

    auto via = [&](const fs::path& path) {
        auto r = fx.run({"sync"}, {{"DITIO_SYNC_DB", path.string()}});
        INFO(r.err);
        CHECK(r.exit_code == 4);
        CHECK(contains(r.err, "another ditio-sync"));
    };
    fs::create_symlink(fx.db(), fx.dir() / "symlink.db");
    via(fx.dir() / "symlink.db");
    fs::create_directories(fx.dir() / "other");
    fs::create_hard_link(fx.db(), fx.dir() / "other" / "hardlink.db");
    via(fx.dir() / "other" / "hardlink.db");
    fs::remove(fx.db().string() + ".lock");
    via(fx.db());

    daemon.kill(SIGTERM);
    CHECK(daemon.wait().exit_code == 0);
}

TEST_CASE("e2e hostile: the database directory removed under the daemon fails health and the runs")
{
    auto port = free_port();
    fixture_options o;
    o.records = 100;
    o.settings["sync.interval"] = R"("1s")";
    o.settings["ops.listen"] = fmt::format("\"127.0.0.1:{}\"", port);
    fixture fx(o);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));
    REQUIRE(wait_for_event(daemon, "ops.listening", 1, std::chrono::seconds{30}));
    CHECK(http_get(port, "/healthz").status == 200);

    fs::remove_all(fx.db().parent_path());
    auto health = http_get(port, "/healthz");
    CHECK(health.status == 503);
    CHECK(contains(health.body, R"("status":"database")"));
    CHECK(contains(health.body, "is gone"));
    // The next run fails before it asks Ditio for anything.
    REQUIRE(wait_for_event(daemon, "sync.run_failed", 1, std::chrono::seconds{60}));
    auto failed = lines_with_event(daemon.err_so_far(), "sync.run_failed");
    CHECK(text_field(failed[0], "status") == "db_error");
    CHECK(contains(text_field(failed[0], "error"), "was deleted, moved or replaced"));
    daemon.kill(SIGTERM);
    auto res = daemon.wait();
    CHECK(res.exit_code == 0);
}

TEST_CASE("e2e hostile: check finds garbage in the middle of the database file")
{
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    auto ok = fx.run({"check"});
    INFO(ok.err);
    REQUIRE(ok.exit_code == 0);
    CHECK(contains(ok.out, "quick_check passed"));
    {
        SQLite::Database c(fx.db().string(), SQLite::OPEN_READWRITE);
        c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    auto size = fs::file_size(fx.db());
    REQUIRE(size > 20 * 32768);
    {
        std::fstream f(fx.db(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>((size / 2) / 32768 * 32768 + 8));
        std::string junk(8000, '\x5a');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    auto bad = fx.run({"check"});
    INFO(bad.err);
    CHECK(bad.exit_code == 4);
    CHECK(contains(bad.out, "database: failed (damaged"));
    auto thorough = fx.run({"check", "--integrity"});
    CHECK(thorough.exit_code == 4);
    CHECK(contains(thorough.out, "integrity_check"));
}

TEST_CASE("e2e hostile: status reads a database on a read-only mount")
{
    if (::geteuid() != 0 || !fs::exists("/usr/bin/unshare")) {
        MESSAGE("skipped: mounting read-only needs root and unshare");
        return;
    }
    fixture fx;
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    // A mount namespace of its own, in which the database's directory is a read-only bind mount.
    fx.set_command_prefix(read_only_mount_prefix(fx.db().parent_path()));
    auto status = fx.run({"status", "time-registrations"});
    INFO(status.err);
    CHECK(status.exit_code == 0);
    CHECK(contains(status.out, "time-registrations"));
    CHECK(contains(status.out, "2000 live"));
    CHECK(fx.run({"status"}).exit_code == 0);
    auto json = fx.run({"status", "--json"});
    CHECK(json.exit_code == 0);
    // With commits still in the write-ahead log: they are read, or the output says they are not.
    fx.set_command_prefix({});
    fx.server().insert(5);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 1, std::chrono::seconds{60}));
    daemon.kill(SIGKILL); // leaves its -wal and -shm behind
    daemon.wait();
    fx.set_command_prefix(read_only_mount_prefix(fx.db().parent_path()));
    auto with_wal = fx.run({"status", "time-registrations"});
    INFO(with_wal.err);
    CHECK(with_wal.exit_code == 0);
    CHECK((
        contains(with_wal.out, "2005 live") ||
        (contains(with_wal.out, "2000 live") && contains(with_wal.out, "note: the file system is read-only"))
    ));
}

TEST_SUITE_END();

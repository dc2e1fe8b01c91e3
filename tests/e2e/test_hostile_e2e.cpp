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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
            CHECK(contains(status_text.out, "last error:"));
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

// ------------------------------------------------------------------------------ the server's answers

TEST_CASE("e2e hostile: an error message of 50 MB costs a few KB of log and database")
{
    fixture_options o;
    o.records = 100;
    fixture fx(o);
    std::string body = R"({"error":"BadRequest","message":")" + std::string(50u << 20, 'm') + "\"}";
    fx.server().inject(status_fault(400, 1, body));
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

TEST_CASE("e2e hostile: status writes out the control characters of Ditio's message")
{
    fixture_options o;
    o.records = 100;
    fixture fx(o);
    fx.server().inject(status_fault(
        400,
        1,
        R"({"error":"BadRequest","message":"bad\nrequest \u001b[31mRED\u001b[0m \u001b]0;owned\u0007 \u009b2J"})"
    ));
    REQUIRE(fx.run({"sync"}).exit_code == 1);
    auto status = fx.run({"status"});
    REQUIRE(status.exit_code == 0);
    CHECK(status.out.find('\x1b') == std::string::npos);
    CHECK(status.out.find('\x07') == std::string::npos);
    CHECK(status.out.find("\xc2\x9b") == std::string::npos);
    CHECK(contains(status.out, "bad\\nrequest \\x1b[31mRED\\x1b[0m \\x1b]0;owned\\x07 \\u009b2J"));
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

TEST_SUITE_END();

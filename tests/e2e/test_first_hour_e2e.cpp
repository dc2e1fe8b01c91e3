// A new user's first hour (issue 14): the secret given by hand (--secret-file, standard input, the
// packaged credential), root on the service's database, a database this user cannot write, errors
// before logging is configured, "did you mean", and a missing default configuration.
#include "harness.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace fs = std::filesystem;

namespace {

// The unprivileged user and group of Debian (nobody, nogroup).
constexpr uid_t nobody = 65534;
constexpr gid_t nogroup = 65534;

bool contains(const std::string& haystack, const std::string& needle)
{
    return haystack.find(needle) != std::string::npos;
}

void write_text(const fs::path& p, const std::string& text)
{
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

struct stat stat_of(const fs::path& p)
{
    struct stat st {};
    REQUIRE_MESSAGE(::stat(p.c_str(), &st) == 0, p.string());
    return st;
}

// ditio-sync with exactly these arguments and environment (no --config of the fixture's).
process_result run_raw(
    const fs::path& dir,
    const std::string& tag,
    std::vector<std::string> args,
    const std::map<std::string, std::string>& env
)
{
    args.insert(args.begin(), DITIO_SYNC_BINARY);
    return child(args, env, dir / (tag + ".out"), dir / (tag + ".err")).wait(std::chrono::seconds{60});
}

// Lets `nobody` reach the fixture's files: the directories on the way and the test CA.
void open_to_others(fixture& fx)
{
    for (auto p = fx.dir(); p != p.root_path(); p = p.parent_path())
        if (p == fx.dir() || p == fx.dir().parent_path())
            fs::permissions(p, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    fs::permissions(fx.config(), fs::perms::others_read, fs::perm_options::add);
    for (auto p = fx.pki().ca_cert; p != fx.dir(); p = p.parent_path())
        fs::permissions(
            p, fs::is_directory(p) ? fs::perms::others_exec : fs::perms::others_read, fs::perm_options::add
        );
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e: --secret-file takes the secret from a file or standard input, before the environment")
{
    fixture fx;
    auto secret_file = fx.dir() / "client_secret";
    write_text(secret_file, fx.secret() + "\n");
    fs::permissions(secret_file, fs::perms::owner_read | fs::perms::owner_write);
    // A wrong secret in the environment proves the flag comes first.
    const std::map<std::string, std::string> wrong{{"DITIO_CLIENT_SECRET", "not-the-secret"}};

    auto refused = fx.run({"check"}, wrong);
    CHECK(refused.exit_code == 3);

    auto from_file = fx.run({"--secret-file", secret_file.string(), "check"}, wrong);
    INFO(from_file.out << from_file.err);
    CHECK(from_file.exit_code == 0);
    CHECK(contains(from_file.out, "token: ok"));

    // runuser -u ditio-sync -- ditio-sync --secret-file - check < /etc/ditio-sync/client_secret
    fx.set_command_prefix({"/bin/sh", "-c", fmt::format("exec \"$@\" < '{}'", secret_file.string()), "sh"});
    auto from_stdin = fx.run({"--secret-file", "-", "check"}, wrong);
    INFO(from_stdin.out << from_stdin.err);
    CHECK(from_stdin.exit_code == 0);
    CHECK(contains(from_stdin.out, "token: ok"));

    // Nothing on standard input is a clear error, not a hang or an empty secret.
    fx.set_command_prefix({"/bin/sh", "-c", "exec \"$@\" < /dev/null", "sh"});
    auto empty = fx.run({"--secret-file", "-", "check"}, wrong);
    CHECK(empty.exit_code == 2);
    CHECK(contains(empty.err, "--secret-file -: standard input is empty"));
    CHECK(empty.out.empty());
}

TEST_CASE("e2e: check names the token URL and the key to look at when Ditio cannot be reached")
{
    fixture fx;
    auto port = free_port();
    fx.set_setting("ditio.identity_base", fmt::format("\"https://127.0.0.1:{}\"", port));
    fx.set_setting("http.max_retries", "0");
    auto res = fx.run({"check"});
    INFO(res.out << res.err);
    CHECK(res.exit_code == 1);
    CHECK(contains(res.out, "database: ok"));
    CHECK(contains(
        res.out,
        fmt::format(
            "token: failed (token endpoint https://127.0.0.1:{}/connect/token (ditio.identity_base)", port
        )
    ));
}

TEST_CASE("e2e: root on the service user's database runs as that user and leaves nothing root owns")
{
    if (::geteuid() != 0) {
        MESSAGE("skipped: needs root");
        return;
    }
    fixture fx;
    open_to_others(fx);
    auto data = fx.db().parent_path();
    fs::create_directories(data);
    REQUIRE(::chown(data.c_str(), nobody, nogroup) == 0);
    ::chmod(data.c_str(), 0750);

    // Owned by a user who is not the service's: root stays root and does not hand that user the mirror.
    auto other = fx.run({"migrate"});
    INFO(other.err);
    REQUIRE(other.exit_code == 0);
    CHECK(lines_with_event(other.err, "app.switched_user").empty());
    CHECK(stat_of(fx.db()).st_uid == 0);
    for (const auto& entry : fs::directory_iterator(data))
        fs::remove(entry.path());

    // The service's account (here nobody, named as a unit with another User= would): root becomes it.
    const std::map<std::string, std::string> service{{"DITIO_SYNC_SERVICE_USER", "nobody"}};
    auto migrate = fx.run({"--log-format", "json", "migrate"}, service);
    INFO(migrate.err);
    REQUIRE(migrate.exit_code == 0);
    auto switched = lines_with_event(migrate.err, "app.switched_user");
    REQUIRE(switched.size() == 1);
    CHECK(contains(switched.front(), "\"uid\":65534"));
    auto sync = fx.run({"sync", "time-registrations"}, service);
    INFO(sync.err);
    CHECK(sync.exit_code == 0);
    auto status = fx.run({"status"}, service);
    CHECK(status.exit_code == 0);
    CHECK(lines_with_event(status.err, "app.switched_user").empty()); // said at debug by status
    // Every file in the service's directory belongs to its owner: the service can open them all.
    int files = 0;
    for (const auto& entry : fs::directory_iterator(data)) {
        INFO(entry.path().string());
        CHECK(stat_of(entry.path()).st_uid == nobody);
        ++files;
    }
    CHECK(files >= 2); // the database and its lock file at least
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e: check refuses a database this user can read but not write, naming the file and its owner")
{
    if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) {
        MESSAGE("skipped: needs root and setpriv");
        return;
    }
    fixture fx;
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    open_to_others(fx);
    // The directory is the user's: only the file itself (root's, 0444) is what cannot be written.
    auto data = fx.db().parent_path();
    REQUIRE(::chown(data.c_str(), nobody, nogroup) == 0);
    ::chmod(fx.db().c_str(), 0444);

    fx.set_command_prefix({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
    auto check = fx.run({"check"});
    INFO(check.out << check.err);
    CHECK(check.exit_code == 4);
    CHECK(contains(check.out, "configuration: ok"));
    CHECK(contains(check.out, "database: "));
    CHECK(contains(
        check.out, fmt::format("file {} (not writable by this user, owner root, mode 0444)", fx.db().string())
    ));
    CHECK(!contains(check.out, "directory "));
    // The doctor goes on without the database: Ditio's checks still say what they find.
    CHECK(check.out.starts_with("problems: database (exit code 4)"));
    CHECK(contains(check.out, "token: ok"));
}

TEST_CASE("e2e: a -shm file left by root is named when the owner's sync cannot write")
{
    if (::geteuid() != 0) {
        MESSAGE("skipped: needs root");
        return;
    }
    fixture fx;
    REQUIRE(fx.run({"migrate"}).exit_code == 0);
    open_to_others(fx);
    auto data = fx.db().parent_path();
    for (const auto& entry : fs::directory_iterator(data))
        REQUIRE(::chown(entry.path().c_str(), nobody, nogroup) == 0);
    REQUIRE(::chown(data.c_str(), nobody, nogroup) == 0);
    // What a root `sqlite3` session killed mid-read leaves behind: a shared-memory file only root writes.
    auto shm = fs::path(fx.db().string() + "-shm");
    write_text(shm, std::string(32768, '\0'));
    ::chmod(shm.c_str(), 0644);

    for (const char* command : {"check", "sync"}) {
        auto res = fx.run({command}, {{"DITIO_SYNC_SERVICE_USER", "nobody"}});
        INFO(command << ": " << res.out << res.err);
        CHECK(res.exit_code == 4);
        auto said = res.out + res.err;
        CHECK(contains(said, shm.string() + " (not writable by this user, owner root, mode 0644)"));
        CHECK(contains(said, "this process runs as nobody"));
    }
}

TEST_CASE("e2e: an error before logging is configured follows --log-format, and a typo gets a suggestion")
{
    fixture fx;
    fx.write_config("[ops]\nlisen = \"127.0.0.1:9464\"\n");
    auto text = fx.run({"--log-format", "text", "status"});
    INFO(text.err);
    CHECK(text.exit_code == 2);
    CHECK(text.err.front() != '{');
    CHECK(contains(text.err, "app.config_error"));
    CHECK(contains(text.err, "ops.lisen: unknown key (did you mean 'listen'? valid: listen, allow_remote,"));

    // Not a terminal and no --log-format: JSON, as after the configuration is read.
    auto json = fx.run({"status"});
    CHECK(json.exit_code == 2);
    CHECK(non_json_lines(json.err).empty());
    CHECK(lines_with_event(json.err, "app.config_error").size() == 1);

    fx.write_config("");
    auto stream = fx.run({"--log-format", "text", "sync", "time-registration"});
    CHECK(stream.exit_code == 2);
    CHECK(contains(stream.err, "unknown stream 'time-registration' (did you mean 'time-registrations'?"));
}

TEST_CASE("e2e: without a configuration file, commands say where they looked")
{
    if (fs::exists("/etc/ditio-sync/ditio-sync.toml")) {
        MESSAGE("skipped: this machine has /etc/ditio-sync/ditio-sync.toml");
        return;
    }
    fixture fx;
    const std::map<std::string, std::string> env{{"DITIO_SYNC_DB", fx.db().string()}};
    auto check = run_raw(fx.dir(), "noconfig-check", {"--log-format", "json", "check"}, env);
    CHECK(check.exit_code == 2);
    auto errors = lines_with_event(check.err, "app.config_error");
    REQUIRE(errors.size() == 1);
    CHECK(contains(errors.front(), "ditio.client_id: is required"));
    CHECK(contains(errors.front(), "there is no configuration file at /etc/ditio-sync/ditio-sync.toml"));
    CHECK(!fs::exists(fx.db()));

    // The environment alone may configure a command: it runs, and says the file is missing.
    auto migrate = run_raw(fx.dir(), "noconfig-migrate", {"--log-format", "json", "migrate"}, env);
    CHECK(migrate.exit_code == 0);
    CHECK(lines_with_event(migrate.err, "config.file_missing").size() == 1);
    CHECK(fs::exists(fx.db()));
}

TEST_SUITE_END();

// End-to-end harness: a temp directory, a test PKI, the in-process fake Ditio server, a config file, the
// real ditio-sync binary as a child process, and a reader that compares the SQLite mirror with the server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <support/fake_ditio.hpp>
#include <support/temp_dir.hpp>
#include <vector>

namespace ditio_sync::e2e {

struct process_result {
    int exit_code = -1; // -1 when killed by a signal
    int signal = 0;
    std::string out; // stdout
    std::string err; // stderr (the logs)
};

// A running child process with stdout/stderr captured to files.
class child {
public:
    child(
        const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env,
        const std::filesystem::path& out_file,
        const std::filesystem::path& err_file
    );
    ~child();
    child(child&& other) noexcept;
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    child& operator=(child&&) = delete;

    pid_t pid() const { return pid_; }
    void kill(int sig);
    // Waits for the exit; kills with SIGKILL and throws on timeout.
    process_result wait(std::chrono::milliseconds timeout = std::chrono::seconds{120});
    // True once the process has exited (it is reaped then; wait() still returns its result).
    bool exited();
    // Current stderr content (the logs so far).
    std::string err_so_far() const;

private:
    pid_t pid_ = -1;
    std::optional<int> status_; // wait status once reaped by exited()
    std::filesystem::path out_file_, err_file_;
};

struct mirror_row {
    std::string data;
    std::string modified_at;
    bool is_deleted = false;
    std::optional<std::string> deleted_at;
};

// Every row of a mirror table, keyed by id.
std::map<std::string, mirror_row>
read_mirror(const std::filesystem::path& db, const std::string& table = "time_registrations");

// Differences between a stream's mirror table and the server's live set: missing, extra-live, stale,
// wrongly live or wrongly deleted rows. Empty when the mirror is exact. Purged records (no tombstone) are
// ignored.
std::vector<std::string> compare_with_server(
    const testing::fake_ditio& server,
    const std::filesystem::path& db,
    const std::string& stream = "time-registrations",
    const std::string& table = "time_registrations"
);

// Every stderr line must be one JSON object; returns the lines that are not.
std::vector<std::string> non_json_lines(const std::string& log);

// The parsed JSON log lines whose "event" equals `event`.
std::vector<std::string> lines_with_event(const std::string& log, const std::string& event);

// Polls the child's log until `event` has appeared `n` times; false when `timeout` passes first.
bool wait_for_event(
    const child& c, const std::string& event, std::size_t n, std::chrono::milliseconds timeout
);

// The whole content of a file ("" when missing).
std::string read_file(const std::filesystem::path& p);

// The first n lines of a list, and how many more there are, for test messages.
std::string join_first(const std::vector<std::string>& v, std::size_t n = 5);

class fixture;

// A number read by a one-off SQL query (0 for NULL or no row).
std::int64_t query_int(const std::filesystem::path& db, const std::string& sql);

// Checks (doctest) that the mirror equals the server's data, listing the first differences.
void check_mirror_exact(
    const testing::fake_ditio& server,
    const std::filesystem::path& db,
    const std::string& stream = "time-registrations",
    const std::string& table = "time_registrations"
);

// Checks (doctest) that a run's log is JSON lines holding neither the secret nor any issued token.
void check_no_leaks(fixture& fx, const std::string& log);

// Polls `sql` (a number) until it reaches `at_least`; false when `timeout` passes first. For waiting on a
// commit, which the log reports only later (a page's log line follows the next page's answer).
bool wait_for_count(
    const std::filesystem::path& db,
    const std::string& sql,
    std::int64_t at_least,
    std::chrono::milliseconds timeout
);

// A fault answering `status` (with `body`) to the next `times` requests whose path ends with `path`.
testing::fault
status_fault(int status, int times, std::string body = {}, std::string path = "/v1/time-registrations");

// A value read by a one-off SQL query (first column of the first row), or nullopt for NULL/no row.
std::optional<std::string> query_text(const std::filesystem::path& db, const std::string& sql);

// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice for an ephemeral bind).
// Throws std::runtime_error.
std::uint16_t free_port();

struct http_answer {
    int status = 0;
    std::string body;
};

// One plain HTTP/1.0 GET on loopback. Throws std::runtime_error when nothing answers with HTTP.
http_answer http_get(std::uint16_t port, const std::string& path);

// A command prefix (fixture::set_command_prefix) that runs ditio-sync in a mount namespace of its own, in
// which `dir` is a read-only bind mount. Needs root and unshare(1).
std::vector<std::string> read_only_mount_prefix(const std::filesystem::path& dir);

struct fixture_options {
    testing::fake_options server;
    std::size_t records = 2000;
    std::uint64_t seed = 42;
    int chunk_limit = 100;
    std::string extra_toml; // appended to the config file
    // Config values by "section.key", raw TOML (strings quoted): added to, or replacing, the defaults.
    std::map<std::string, std::string> settings;
};

// One test's world: directory, PKI, fake server (started and seeded), config file, database path.
class fixture {
public:
    explicit fixture(fixture_options options = {});
    ~fixture();

    testing::fake_ditio& server() { return *server_; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    const std::filesystem::path& db() const { return db_; }
    const std::filesystem::path& config() const { return config_; }
    const testing::test_pki& pki() const { return pki_; }
    const std::string& secret() const { return options_.server.client_secret; }

    // Writes the config file again with `extra_toml` appended.
    void write_config(const std::string& extra_toml);
    // Sets one "section.key" (raw TOML) and writes the config file again with no extra TOML.
    void set_setting(const std::string& key, const std::string& value)
    {
        options_.settings[key] = value;
        write_config("");
    }
    // What of the client secret and the access tokens the server issued appears in any run's output or
    // in the database files (nothing, or the test fails when the fixture ends).
    std::vector<std::string> leaks() const;

    // Environment for the child: the client secret and a clean DITIO_* set.
    std::map<std::string, std::string> env() const;

    // Runs `ditio-sync --config <config> <args...>` to completion.
    // `env_overrides` replace or add environment variables for this run.
    process_result
    run(const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env_overrides = {},
        std::chrono::milliseconds timeout = std::chrono::seconds{120});
    // Starts it without waiting.
    child
    start(const std::vector<std::string>& args, const std::map<std::string, std::string>& env_overrides = {});
    // Starts ditio-sync and returns once its `nth` data request is parked on the fake server (released
    // with server().release()); the test fails if that request does not arrive.
    child start_held(std::uint64_t nth, const std::vector<std::string>& args);
    // Runs ditio-sync under a wrapper command (e.g. {"/usr/bin/prlimit", "--fsize=1000000", "--"}) from now
    // on.
    void set_command_prefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }

private:
    fixture_options options_;
    testing::temp_dir dir_; // removed with everything in it, last
    std::filesystem::path db_, config_;
    testing::test_pki pki_;
    std::unique_ptr<testing::fake_ditio> server_;
    std::vector<std::string> prefix_;
    int runs_ = 0;
};

} // namespace ditio_sync::e2e

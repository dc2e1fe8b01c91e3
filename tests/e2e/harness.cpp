#include "harness.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ditio_sync::e2e {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string read_all(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

child::child(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env,
    const fs::path& out_file,
    const fs::path& err_file
)
    : out_file_(out_file), err_file_(err_file)
{
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        std::string_view kv(*e);
        auto name = kv.substr(0, kv.find('='));
        // The child sees only the Ditio settings the test gives it.
        if (name.starts_with("DITIO_") || name == "CREDENTIALS_DIRECTORY" || name.ends_with("_PROXY") ||
            name.ends_with("_proxy") || env.contains(std::string(name)))
            continue;
        env_strings.emplace_back(kv);
    }
    for (const auto& [k, v] : env)
        env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = args;
    std::vector<char*> argv;
    for (auto& s : argv_strings)
        argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(
        &actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600
    );
    posix_spawn_file_actions_addopen(
        &actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600
    );
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error(fmt::format("cannot start {}: {}", args.at(0), std::strerror(rc)));
}

child::child(child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_), out_file_(std::move(other.out_file_)),
      err_file_(std::move(other.err_file_))
{
}

child::~child()
{
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void child::kill(int sig)
{
    if (pid_ > 0 && !status_)
        ::kill(pid_, sig);
}

bool child::exited()
{
    if (status_)
        return true;
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_)
        status_ = status;
    return status_.has_value();
}

std::string child::err_so_far() const
{
    return read_all(err_file_);
}

process_result child::wait(std::chrono::milliseconds timeout)
{
    if (pid_ <= 0)
        throw std::logic_error("child already waited for");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = status_.value_or(0);
    while (!status_) {
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_)
            break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            throw std::runtime_error("ditio-sync did not exit in time; stderr:\n" + read_all(err_file_));
        }
        // Polling the exit status: there is no portable blocking wait with a timeout.
        std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
    pid_ = -1;
    process_result res;
    if (WIFEXITED(status))
        res.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        res.signal = WTERMSIG(status);
    res.out = read_all(out_file_);
    res.err = read_all(err_file_);
    return res;
}

std::map<std::string, mirror_row> read_mirror(const fs::path& db, const std::string& table)
{
    std::map<std::string, mirror_row> out;
    SQLite::Database conn(db.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(
        conn, fmt::format("SELECT id, data, modified_at, is_deleted, deleted_at FROM {}", table)
    );
    while (q.executeStep()) {
        mirror_row r;
        r.data = q.getColumn(1).getString();
        r.modified_at = q.getColumn(2).getString();
        r.is_deleted = q.getColumn(3).getInt() != 0;
        if (!q.getColumn(4).isNull())
            r.deleted_at = q.getColumn(4).getString();
        out.emplace(q.getColumn(0).getString(), std::move(r));
    }
    return out;
}

std::vector<std::string> compare_with_server(
    const testing::fake_ditio& server, const fs::path& db, const std::string& stream, const std::string& table
)
{
    std::vector<std::string> diffs;
    auto truth = server.snapshot(stream);
    auto mirror = read_mirror(db, table);
    for (const auto& [id, rec] : truth) {
        auto it = mirror.find(id);
        if (!rec.deleted) {
            if (it == mirror.end()) {
                diffs.push_back("missing " + id);
            } else if (it->second.is_deleted) {
                diffs.push_back("flagged deleted but live on the server " + id);
            } else if (json::parse(it->second.data) != json::parse(rec.json)) {
                diffs.push_back(
                    fmt::format("stale {} (mirror {} vs server {})", id, it->second.modified_at, rec.modified)
                );
            }
        } else if (it != mirror.end() && !it->second.is_deleted) {
            diffs.push_back("deleted on the server but live in the mirror " + id);
        }
    }
    for (const auto& [id, row] : mirror) {
        auto it = truth.find(id);
        if (!row.is_deleted && (it == truth.end()))
            diffs.push_back("live in the mirror but unknown to the server " + id);
    }
    return diffs;
}

std::vector<std::string> non_json_lines(const std::string& log)
{
    std::vector<std::string> bad;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object() || !v.as_object().contains("event") || !v.as_object().contains("ts"))
            bad.push_back(line);
    }
    return bad;
}

std::vector<std::string> lines_with_event(const std::string& log, const std::string& event)
{
    std::vector<std::string> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object())
            continue;
        if (auto* e = v.as_object().if_contains("event"); e && e->is_string() && e->get_string() == event)
            out.push_back(line);
    }
    return out;
}

bool wait_for_event(
    const child& c, const std::string& event, std::size_t n, std::chrono::milliseconds timeout
)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (lines_with_event(c.err_so_far(), event).size() < n) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        // Polling a log file: there is nothing to block on.
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return true;
}

std::string read_file(const fs::path& p)
{
    return read_all(p);
}

std::string join_first(const std::vector<std::string>& v, std::size_t n)
{
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < n; ++i)
        out += v[i] + "\n";
    if (v.size() > n)
        out += fmt::format("... and {} more\n", v.size() - n);
    return out;
}

std::int64_t query_int(const fs::path& db, const std::string& sql)
{
    return std::stoll(query_text(db, sql).value_or("0"));
}

void check_mirror_exact(
    const testing::fake_ditio& server, const fs::path& db, const std::string& stream, const std::string& table
)
{
    auto diffs = compare_with_server(server, db, stream, table);
    CHECK_MESSAGE(diffs.empty(), stream << ": " << join_first(diffs));
}

void check_no_leaks(fixture& fx, const std::string& log)
{
    auto bad = non_json_lines(log);
    CHECK_MESSAGE(bad.empty(), join_first(bad));
    CHECK(log.find(fx.secret()) == std::string::npos);
    for (const auto& token : fx.server().issued_tokens())
        CHECK(log.find(token) == std::string::npos);
}

testing::fault status_fault(int status, int times, std::string body, std::string path)
{
    testing::fault f;
    f.what = testing::fault::kind::status;
    f.path_suffix = std::move(path);
    f.status = status;
    f.count = times;
    f.body = std::move(body);
    return f;
}

bool wait_for_count(
    const fs::path& db, const std::string& sql, std::int64_t at_least, std::chrono::milliseconds timeout
)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            if (query_int(db, sql) >= at_least)
                return true;
        } catch (const std::exception&) {
            // Not created or migrated yet.
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return false;
}

std::optional<std::string> query_text(const fs::path& db, const std::string& sql)
{
    SQLite::Database conn(db.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(conn, sql);
    if (!q.executeStep() || q.getColumn(0).isNull())
        return std::nullopt;
    return q.getColumn(0).getString();
}

// dir_ owns the directory, so a constructor that throws after making it removes it too.
fixture::fixture(fixture_options options) : options_(std::move(options)), dir_("ditio-e2e-")
{
    pki_ = testing::make_test_pki(dir() / "pki");
    db_ = dir() / "data" / "ditio.db";
    config_ = dir() / "ditio-sync.toml";
    auto server_options = options_.server;
    server_options.tls = true;
    server_options.cert_file = pki_.server_cert;
    server_options.key_file = pki_.server_key;
    server_ = std::make_unique<testing::fake_ditio>(server_options);
    server_->start();
    if (options_.records > 0)
        server_->seed(options_.records, options_.seed);
    write_config(options_.extra_toml);
}

std::vector<std::string> fixture::leaks() const
{
    // Everything ditio-sync wrote: its stdout and stderr of every run, and the database files.
    std::string written;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir(), ec)) {
        auto name = entry.path().filename().string();
        if (name.starts_with("run") && (name.ends_with(".err") || name.ends_with(".out")))
            written += read_all(entry.path());
    }
    for (const auto* suffix : {"", "-wal", "-journal"})
        written += read_all(db_.string() + suffix);
    std::vector<std::string> found;
    if (written.find(options_.server.client_secret) != std::string::npos)
        found.push_back("the client secret");
    for (const auto& token : server_->issued_tokens())
        if (written.find(token) != std::string::npos)
            found.push_back("an access token");
    return found;
}

fixture::~fixture()
{
    // Every e2e test, whatever its fault, proves that no secret or token reached logs or database.
    auto found = leaks();
    CHECK_MESSAGE(
        found.empty(), "leaked into ditio-sync's output or database: " << (found.empty() ? "" : found.front())
    );
    server_->stop();
}

void fixture::write_config(const std::string& extra_toml)
{
    auto base = server_->base_url();
    // Defaults for tests: quick retries, a short timeout, the test CA; options_.settings override them.
    std::map<std::string, std::string> values{
        {"ditio.identity_base", fmt::format("\"{}\"", base)},
        {"ditio.api_base", fmt::format("\"{}/core\"", base)},
        {"ditio.reporting_base", fmt::format("\"{}/reporting\"", base)},
        {"ditio.client_id", fmt::format("\"{}\"", options_.server.client_id)},
        {"storage.path", fmt::format("\"{}\"", db_.string())},
        {"sync.chunk_limit", std::to_string(options_.chunk_limit)},
        {"http.ca_file", fmt::format("\"{}\"", pki_.ca_cert.string())},
        {"http.timeout", "\"10s\""},
        {"http.retry_initial", "\"50ms\""},
        {"http.retry_max", "\"500ms\""},
        {"log.format", "\"json\""},
    };
    for (const auto& [k, v] : options_.settings)
        values[k] = v;
    std::ofstream out(config_, std::ios::trunc);
    std::string section;
    for (const auto& [k, v] : values) {
        auto dot = k.find('.');
        if (k.substr(0, dot) != section) {
            section = k.substr(0, dot);
            out << "\n[" << section << "]\n";
        }
        out << k.substr(dot + 1) << " = " << v << "\n";
    }
    out << extra_toml << "\n";
}

std::map<std::string, std::string> fixture::env() const
{
    return {{"DITIO_CLIENT_SECRET", options_.server.client_secret}};
}

child fixture::start(
    const std::vector<std::string>& args, const std::map<std::string, std::string>& env_overrides
)
{
    auto environment = env();
    for (const auto& [k, v] : env_overrides)
        environment[k] = v;
    std::vector<std::string> argv = prefix_;
    argv.insert(argv.end(), {DITIO_SYNC_BINARY, "--config", config_.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    ++runs_;
    return child(
        argv, environment, dir() / fmt::format("run{}.out", runs_), dir() / fmt::format("run{}.err", runs_)
    );
}

child fixture::start_held(std::uint64_t nth, const std::vector<std::string>& args)
{
    server_->hold_request(nth);
    auto proc = start(args);
    REQUIRE_MESSAGE(
        server_->wait_until_held(std::chrono::seconds{30}), "request " << nth << " never arrived"
    );
    return proc;
}

process_result fixture::run(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env_overrides,
    std::chrono::milliseconds timeout
)
{
    return start(args, env_overrides).wait(timeout);
}

std::uint16_t free_port()
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() failed");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

http_answer http_get(std::uint16_t port, const std::string& path)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto req = fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
        ::close(fd);
        throw std::runtime_error(fmt::format("GET {} on port {}: cannot connect or send", path, port));
    }
    std::string raw;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
        raw.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto split = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || split == std::string::npos)
        throw std::runtime_error(fmt::format("GET {} on port {}: no HTTP answer", path, port));
    return {std::stoi(raw.substr(9, 3)), raw.substr(split + 4)};
}

std::vector<std::string> read_only_mount_prefix(const fs::path& dir)
{
    return {
        "/usr/bin/unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        R"(mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@")",
        dir.string()};
}

} // namespace ditio_sync::e2e

// End-to-end for running as a service: the systemd notification protocol over a real datagram socket
// (READY, STATUS, WATCHDOG, STOPPING), SIGHUP reloads with a good and a bad configuration, and journald
// priorities on stderr.
#include "harness.hpp"

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <sstream>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

// The receiving end of $NOTIFY_SOCKET, as systemd has it.
class notify_socket {
public:
    explicit notify_socket(std::filesystem::path path) : path_(std::move(path))
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path_.string().size() < sizeof(addr.sun_path));
        std::memcpy(addr.sun_path, path_.c_str(), path_.string().size());
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    }
    ~notify_socket()
    {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Receives datagrams until one contains `needle`; false when `timeout` passes first.
    // Reads every message already queued (the sender has exited, say), without waiting.
    void drain()
    {
        char buf[4096];
        for (pollfd p{fd_, POLLIN, 0}; ::poll(&p, 1, 0) > 0;) {
            auto n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0)
                break;
            messages.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }

    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (const auto& m : messages)
            if (m.find(needle) != std::string::npos)
                return true;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now()
            );
            if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 1))) <= 0)
                continue;
            char buf[4096];
            auto n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0)
                continue;
            messages.emplace_back(buf, static_cast<std::size_t>(n));
            if (messages.back().find(needle) != std::string::npos)
                return true;
        }
        return false;
    }

    // Index of the first message containing `needle`, or -1.
    long index_of(const std::string& needle) const
    {
        for (std::size_t i = 0; i < messages.size(); ++i)
            if (messages[i].find(needle) != std::string::npos)
                return static_cast<long>(i);
        return -1;
    }

    std::vector<std::string> messages;

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

std::string all_messages(const notify_socket& s)
{
    std::string out;
    for (const auto& m : s.messages)
        out += m + "\n---\n";
    return out;
}

} // namespace

TEST_SUITE_BEGIN("e2e-service");

TEST_CASE("e2e service: READY after the database is ready, STATUS while syncing, WATCHDOG pings, STOPPING")
{
    fixture_options o;
    o.records = 600;
    o.chunk_limit = 100;
    o.settings["sync.interval"] = R"("1h")";
    fixture fx(o);
    notify_socket sock(fx.dir() / "notify.sock");
    auto daemon = fx.start(
        {"run"}, {{"NOTIFY_SOCKET", sock.path().string()}, {"WATCHDOG_USEC", "400000"}} // a ping every 200 ms
    );
    REQUIRE_MESSAGE(sock.wait_for("READY=1", std::chrono::seconds{30}), daemon.err_so_far());
    // Ready means migrated: the schema is there when systemd is told.
    CHECK(query_int(fx.db(), "PRAGMA user_version") >= 2);
    REQUIRE(sock.wait_for("STATUS=time-registrations: page 6, 600 rows", std::chrono::seconds{30}));
    REQUIRE(sock.wait_for("STATUS=idle; last run: time-registrations ok", std::chrono::seconds{30}));
    // Pings keep coming while the daemon waits for its next run.
    REQUIRE(wait_for_event(daemon, "sync.summary", 1, std::chrono::seconds{30}));
    for (int i = 0; i < 3; ++i) {
        sock.messages.clear();
        REQUIRE(sock.wait_for("WATCHDOG=1", std::chrono::seconds{5}));
    }
    daemon.kill(SIGTERM);
    REQUIRE(sock.wait_for("STOPPING=1", std::chrono::seconds{10}));
    auto res = daemon.wait();
    INFO(res.err);
    CHECK(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e service: the notification order is READY, then status and pings, then STOPPING last")
{
    fixture_options o;
    o.records = 300;
    o.chunk_limit = 100;
    o.settings["sync.interval"] = R"("1h")";
    fixture fx(o);
    notify_socket sock(fx.dir() / "notify.sock");
    auto daemon = fx.start({"run"}, {{"NOTIFY_SOCKET", sock.path().string()}, {"WATCHDOG_USEC", "1000000"}});
    REQUIRE(sock.wait_for("STATUS=idle", std::chrono::seconds{30}));
    daemon.kill(SIGTERM);
    REQUIRE(sock.wait_for("STOPPING=1", std::chrono::seconds{10}));
    auto res = daemon.wait();
    CHECK(res.exit_code == 0);
    sock.drain(); // whatever it sent after STOPPING=1, so the check below can see it
    INFO(all_messages(sock));
    auto ready = sock.index_of("READY=1");
    REQUIRE(ready == 0);
    CHECK(sock.index_of("WATCHDOG=1") > ready);
    CHECK(sock.index_of("STATUS=time-registrations: full sync started") > ready);
    CHECK(sock.index_of("STOPPING=1") == static_cast<long>(sock.messages.size()) - 1);
    // A watchdog meant for another process is not answered.
    notify_socket other(fx.dir() / "other.sock");
    auto again = fx.start(
        {"run"},
        {{"NOTIFY_SOCKET", other.path().string()}, {"WATCHDOG_USEC", "200000"}, {"WATCHDOG_PID", "1"}}
    );
    REQUIRE(other.wait_for("STATUS=idle", std::chrono::seconds{30}));
    again.kill(SIGTERM);
    REQUIRE(other.wait_for("STOPPING=1", std::chrono::seconds{10}));
    again.wait();
    CHECK(other.index_of("WATCHDOG=1") == -1);
}

TEST_CASE("e2e service: SIGHUP applies a good configuration and refuses a bad one, keeping checkpoints")
{
    fixture_options o;
    o.records = 300;
    o.chunk_limit = 50;
    o.settings["sync.interval"] = R"("1h")";
    fixture fx(o);
    fx.server().seed_streams(40, 5);
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.summary", 1, std::chrono::seconds{30}));
    auto watermark =
        query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'");
    REQUIRE(watermark.has_value());

    // A good change: one more stream. It runs at once; the first stream keeps its watermark and
    // schedule (no second full run).
    fx.set_setting("sync.streams", R"(["time-registrations", "user"])");
    ::kill(daemon.pid(), SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reloaded", 1, std::chrono::seconds{10}));
    REQUIRE(wait_for_count(
        fx.db(),
        "SELECT count(*) FROM sync_runs WHERE stream = 'user' AND status = 'ok'",
        1,
        std::chrono::seconds{30}
    ));
    check_mirror_exact(fx.server(), fx.db(), "user", "users");
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs WHERE stream = 'time-registrations'") == 1);
    CHECK(
        query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'time-registrations'") ==
        watermark
    );

    // A bad change is refused with a log line; the daemon goes on with the configuration it has.
    fx.write_config("[nonsense]\nkey = 1\n");
    ::kill(daemon.pid(), SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reload_failed", 1, std::chrono::seconds{10}));
    auto failed = lines_with_event(daemon.err_so_far(), "app.reload_failed");
    CHECK(failed.front().find("nonsense") != std::string::npos);
    CHECK(!daemon.exited());

    // And a good one after the bad one applies again (streams back to one). A key that needs a restart
    // is named, on this reload and on every later one until the restart.
    fx.set_setting("sync.streams", R"(["time-registrations"])");
    fx.set_setting("storage.busy_timeout", R"("7s")");
    ::kill(daemon.pid(), SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reloaded", 2, std::chrono::seconds{10}));
    ::kill(daemon.pid(), SIGHUP);
    REQUIRE(wait_for_event(daemon, "app.reloaded", 3, std::chrono::seconds{10}));
    auto reloads = lines_with_event(daemon.err_so_far(), "app.reloaded");
    REQUIRE(reloads.size() == 3);
    CHECK(reloads[0].find("needs_restart") == std::string::npos);
    for (std::size_t i = 1; i < 3; ++i) {
        auto v = json::parse(reloads[i]);
        CHECK(v.at("level") == "warning");
        CHECK(
            std::string(v.at("needs_restart").as_string()).find("storage.busy_timeout") != std::string::npos
        );
    }
    daemon.kill(SIGTERM);
    auto res = daemon.wait();
    INFO(res.err);
    CHECK(res.exit_code == 0);
    check_no_leaks(fx, res.err);
}

TEST_CASE("e2e service: under journald each line carries its syslog priority, and stays JSON after it")
{
    fixture_options o;
    o.records = 100;
    fixture fx(o);
    fx.server().inject(status_fault(503, 1));
    // JOURNAL_STREAM names stderr's device and inode, as systemd sets it.
    fx.set_command_prefix(
        {"/bin/sh", "-c", "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$@\"", "sh"}
    );
    auto res = fx.run({"sync"});
    REQUIRE(res.exit_code == 0);
    std::istringstream in(res.err);
    std::string line;
    int info = 0, warning = 0;
    while (std::getline(in, line)) {
        INFO(line);
        REQUIRE(line.size() > 3);
        REQUIRE(line[0] == '<');
        auto v = json::parse(line.substr(3));
        auto level = std::string(v.at("level").as_string());
        if (level == "info") {
            CHECK(line.starts_with("<6>"));
            ++info;
        } else if (level == "warning") {
            CHECK(line.starts_with("<4>"));
            ++warning;
        }
    }
    CHECK(info > 3);
    CHECK(warning == 1); // the retried 503

    // Without JOURNAL_STREAM (or with one naming another file) there is no prefix.
    fx.set_command_prefix({"/usr/bin/env", "JOURNAL_STREAM=1:1"});
    auto plain = fx.run({"sync"});
    REQUIRE(plain.exit_code == 0);
    CHECK(non_json_lines(plain.err).empty());
}

namespace {

// The value of one sample line ("name{labels} value") in a Prometheus text body, or -1.
double sample(const std::string& body, const std::string& series)
{
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(series + " "))
            return std::stod(line.substr(series.size() + 1));
    return -1;
}

} // namespace

TEST_CASE("e2e service: /metrics and /healthz on loopback before and after a sync, and when data is stale")
{
    auto port = free_port();
    fixture_options o;
    o.records = 600;
    o.chunk_limit = 100;
    o.settings["sync.interval"] = R"("1h")";
    o.settings["ops.listen"] = fmt::format("\"127.0.0.1:{}\"", port);
    fixture fx(o);
    fx.server().seed_streams(30, 9);
    fx.set_setting("sync.streams", R"(["time-registrations", "user"])");

    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "ops.listening", 1, std::chrono::seconds{30}));
    REQUIRE(wait_for_event(daemon, "sync.summary", 1, std::chrono::seconds{30}));
    auto metrics = http_get(port, "/metrics");
    CHECK(metrics.status == 200);
    INFO(metrics.body);
    CHECK(sample(metrics.body, R"(ditio_sync_rows_upserted_total{stream="time-registrations"})") == 600);
    CHECK(sample(metrics.body, R"(ditio_sync_pages_total{stream="time-registrations"})") == 6);
    CHECK(sample(metrics.body, R"(ditio_sync_runs_total{stream="time-registrations",result="ok"})") == 1);
    CHECK(sample(metrics.body, R"(ditio_sync_runs_total{stream="user",result="ok"})") == 1);
    CHECK(sample(metrics.body, R"(ditio_sync_http_responses_total{status="200"})") >= 7);
    CHECK(sample(metrics.body, "ditio_sync_token_refreshes_total") == 1);
    CHECK(sample(metrics.body, "process_resident_memory_bytes") > 1e6);
    auto age = sample(metrics.body, R"(ditio_sync_watermark_age_seconds{stream="time-registrations"})");
    CHECK(age >= 0);
    CHECK(age < 120);
    auto health = http_get(port, "/healthz");
    CHECK(health.status == 200);
    auto h = json::parse(health.body);
    CHECK(h.at("status") == "ok");
    CHECK(h.at("streams").as_array().size() == 2);
    CHECK(http_get(port, "/nope").status == 404);
    daemon.kill(SIGTERM);
    REQUIRE(daemon.wait().exit_code == 0);

    // Stale: the last success is five hours old (the bound is three 1h intervals) and Ditio fails every
    // request now.
    {
        SQLite::Database db(fx.db().string(), SQLite::OPEN_READWRITE);
        db.exec("UPDATE sync_state SET last_success_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-5 hours') "
                "WHERE stream = 'user'");
    }
    fx.server().inject(status_fault(503, 100000, {}, "/v1/user"));
    auto again = fx.start({"run"});
    REQUIRE(wait_for_event(again, "ops.listening", 1, std::chrono::seconds{30}));
    auto stale = http_get(port, "/healthz");
    CHECK(stale.status == 503);
    auto s = json::parse(stale.body);
    CHECK(s.at("status") == "stale");
    bool named = false;
    for (const auto& st : s.at("streams").as_array())
        if (st.at("stream") == "user") {
            named = true;
            CHECK(st.at("state") == "stale");
        } else {
            CHECK(st.at("state") == "fresh");
        }
    CHECK(named);
    again.kill(SIGTERM);
    again.wait();
}

TEST_CASE("e2e service: ops.listen refuses a non-loopback address unless allowed")
{
    fixture_options o;
    o.records = 0;
    o.settings["ops.listen"] = R"("0.0.0.0:9464")";
    fixture fx(o);
    auto res = fx.run({"run"});
    CHECK(res.exit_code == 2);
    CHECK(res.err.find("ops.listen") != std::string::npos);
}

TEST_CASE("e2e service: an interactive sync on a terminal shows a live progress line")
{
    fixture_options o;
    o.records = 500;
    o.chunk_limit = 100;
    fixture fx(o);
    // script(1) gives ditio-sync a pseudo-terminal as stdout; what it printed lands in run.out.
    fx.set_command_prefix({"/bin/sh", "-c", "exec script -qfec \"$*\" /dev/null", "sh"});
    auto res = fx.run({"sync"});
    INFO(res.out);
    REQUIRE(res.exit_code == 0);
    CHECK(res.out.find("\r\033[Ktime-registrations: page 3, 300 rows") != std::string::npos);
    CHECK(res.out.find("rows/s") != std::string::npos);
    CHECK(res.out.find("time-registrations: ok, 5 pages, 500 rows upserted") != std::string::npos);
    check_mirror_exact(fx.server(), fx.db());

    // Not a terminal: no progress line on stdout.
    fx.set_command_prefix({});
    auto plain = fx.run({"sync"});
    REQUIRE(plain.exit_code == 0);
    CHECK(plain.out.empty());
}

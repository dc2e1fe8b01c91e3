// End-to-end: network security and bad input (issue 3, items 6 and 7), against the real ditio-sync binary.
//
// - TLS: a certificate that chains to the trusted CA but names another host is refused (exit 1, a clear
//   error, nothing mirrored); an unloadable http.ca_file is a configuration error.
// - Plain http:// is refused for any host that is not loopback, and allowed for loopback.
// - HTTPS through a real HTTP CONNECT proxy (Debian's tinyproxy, started by the test), from http.proxy and
//   from HTTPS_PROXY; NO_PROXY bypasses it; a proxy that refuses the tunnel or is down fails the sync.
// - Every invalid key, value, duration, URL, missing credential and bad command line gives exit code 2 and
//   one line naming the problem, does not crash, sends nothing to Ditio and writes nothing to the database.
#include "harness.hpp"

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void write_text(const fs::path& p, const std::string& text)
{
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out)
        throw std::runtime_error("cannot write " + p.string());
}

bool contains(const std::string& haystack, const std::string& needle)
{
    return haystack.find(needle) != std::string::npos;
}

std::size_t occurrences(const std::string& haystack, const std::string& needle)
{
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1))
        ++n;
    return n;
}

std::vector<std::string> nonempty_lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos)
            out.push_back(line);
    return out;
}

// A string field of a JSON log line, or "" when absent or not a string.
std::string field(const std::string& line, const char* name)
{
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object())
        return {};
    const auto* f = v.as_object().if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string{};
}

// The error of the (single) failed run, from its sync.run_finished line.
std::string run_error(const std::string& log)
{
    auto finished = lines_with_event(log, "sync.run_finished");
    return finished.size() == 1 ? field(finished.front(), "error") : std::string{};
}

bool accepts_connections(std::uint16_t port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// The ditio-sync configuration these tests write themselves (the fixture's file cannot take a second
// [http] table, and several tests point at a server other than the fixture's).
struct config_params {
    std::string base; // origin used for identity, api and reporting
    fs::path db;
    fs::path ca;            // http.ca_file; empty for none
    std::string http_extra; // more lines for [http]
    std::string tail;       // appended after everything (further sections)
    bool with_log = true;   // end with [log] format = "json"
};

std::string config_text(const config_params& p)
{
    return fmt::format(
               R"([ditio]
identity_base = "{0}"
api_base = "{0}/core"
reporting_base = "{0}/reporting"
client_id = "demo-client"

[storage]
path = "{1}"

[http]
ca_file = "{2}"
timeout = "10s"
retry_initial = "50ms"
retry_max = "500ms"
{3})",
               p.base,
               p.db.string(),
               p.ca.string(),
               p.http_extra
           ) +
           (p.with_log ? "\n[log]\nformat = \"json\"\n" : "") + p.tail;
}

// Runs the binary with exactly `args` (no implicit --config) and the fake's client secret unless overridden.
process_result run_binary(
    const fs::path& dir,
    const std::string& tag,
    std::vector<std::string> args,
    const std::map<std::string, std::string>& env,
    std::chrono::milliseconds timeout = std::chrono::seconds{30}
)
{
    args.insert(args.begin(), DITIO_SYNC_BINARY);
    std::map<std::string, std::string> environment{{"DITIO_CLIENT_SECRET", "demo-secret"}};
    for (const auto& [k, v] : env)
        environment[k] = v;
    return child(args, environment, dir / (tag + ".out"), dir / (tag + ".err")).wait(timeout);
}

// A real tinyproxy (Debian's package) in the foreground on a free loopback port, killed on destruction.
class tinyproxy {
public:
    // `connect_port`: the only port CONNECT may reach; nullopt writes no ConnectPort line (any port).
    tinyproxy(const fs::path& dir, std::optional<std::uint16_t> connect_port) : dir_(dir)
    {
        fs::path binary;
        for (const char* candidate : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"})
            if (fs::exists(candidate))
                binary = candidate;
        if (binary.empty())
            throw std::runtime_error("tinyproxy is not installed (packaging/install-deps.sh installs it)");
        fs::create_directories(dir_);
        port_ = free_port();
        std::string conf = fmt::format(
            "Port {}\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 8\nTimeout 60\n"
            "LogLevel Connect\nLogFile \"{}\"\nPidFile \"{}\"\n",
            port_,
            log_file().string(),
            (dir_ / "tinyproxy.pid").string()
        );
        if (connect_port)
            conf += fmt::format("ConnectPort {}\n", *connect_port);
        write_text(dir_ / "tinyproxy.conf", conf);
        proc_.emplace(
            std::vector<std::string>{binary.string(), "-d", "-c", (dir_ / "tinyproxy.conf").string()},
            std::map<std::string, std::string>{},
            dir_ / "tinyproxy.out",
            dir_ / "tinyproxy.err"
        );
        // Ready when it accepts a connection; polled against a deadline.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
        while (!accepts_connections(port_)) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error(
                    "tinyproxy did not start listening; stderr:\n" + proc_->err_so_far() + "\nlog:\n" + log()
                );
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        }
    }

    std::uint16_t port() const { return port_; }
    std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
    fs::path log_file() const { return dir_ / "tinyproxy.log"; }
    std::string log() const { return read_file(log_file()); }
    // CONNECT requests for `authority` ("127.0.0.1:PORT") logged so far. tinyproxy logs the request line
    // before it opens the tunnel, so once ditio-sync has exited every CONNECT it made is in the log.
    std::size_t connects_to(const std::string& authority) const
    {
        return occurrences(log(), "CONNECT " + authority + " HTTP/1.1");
    }
    std::size_t connects() const { return occurrences(log(), "): CONNECT "); }

private:
    fs::path dir_;
    std::uint16_t port_ = 0;
    std::optional<child> proc_; // its destructor kills and reaps tinyproxy
};

std::string authority_of(const testing::fake_ditio& server)
{
    return fmt::format("127.0.0.1:{}", server.port());
}

} // namespace

TEST_SUITE_BEGIN("e2e-network");

// ---------------------------------------------------------------------------------------------- TLS

TEST_CASE("e2e: a certificate from the trusted CA for another host name is refused with a TLS error")
{
    fixture_options fo;
    fo.records = 0; // the fixture's own server stays idle; the tests below talk to servers of their own
    fixture fx(fo);
    auto ca = testing::make_test_ca(fx.dir() / "ca2");

    // The impostor's certificate chains to the CA in http.ca_file but is for wrong.example, not 127.0.0.1.
    auto wrong = testing::make_server_cert(ca, fx.dir() / "wrong", {"wrong.example"});
    testing::fake_options io;
    io.cert_file = wrong.server_cert;
    io.key_file = wrong.server_key;
    testing::fake_ditio impostor(io);
    impostor.start();
    impostor.seed(200, 5);

    auto db = fx.dir() / "wrong-host" / "ditio.db";
    write_text(fx.config(), config_text({impostor.base_url(), db, ca.cert}));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.signal == 0);
    CHECK(res.exit_code == 1);
    auto error = run_error(res.err);
    CHECK(contains(error, "TLS"));
    CHECK(contains(error, "certificate"));
    CHECK(non_json_lines(res.err).empty());
    // It reached the server (so the refusal is the certificate's doing) but never sent the credentials.
    CHECK(impostor.stats().connections_accepted >= 1);
    CHECK(impostor.stats().token_requests == 0);
    CHECK(impostor.stats().api_requests == 0);
    // A certificate problem is a setting to fix: it is not retried.
    CHECK(lines_with_event(res.err, "http.retry").empty());
    CHECK(query_int(db, "SELECT count(*) FROM time_registrations") == 0);
    CHECK(!query_text(db, "SELECT watermark FROM sync_state").has_value());
    CHECK(!contains(res.err, fx.secret()));

    // A certificate for localhost only, from the same CA: valid when the URL says localhost (so the chain
    // is fine and the host name is what is checked), refused when the URL says 127.0.0.1.
    auto local = testing::make_server_cert(ca, fx.dir() / "localhost-only", {"localhost"});
    testing::fake_options lo;
    lo.cert_file = local.server_cert;
    lo.key_file = local.server_key;
    testing::fake_ditio genuine(lo);
    genuine.start();
    genuine.seed(300, 6);

    auto by_ip_db = fx.dir() / "by-ip" / "ditio.db";
    write_text(fx.config(), config_text({genuine.base_url(), by_ip_db, ca.cert}));
    auto by_ip = fx.run({"sync"});
    INFO(by_ip.err);
    CHECK(by_ip.exit_code == 1);
    CHECK(contains(run_error(by_ip.err), "TLS"));
    CHECK(genuine.stats().token_requests == 0);
    CHECK(query_int(by_ip_db, "SELECT count(*) FROM time_registrations") == 0);

    auto by_name_db = fx.dir() / "by-name" / "ditio.db";
    write_text(
        fx.config(), config_text({fmt::format("https://localhost:{}", genuine.port()), by_name_db, ca.cert})
    );
    auto by_name = fx.run({"sync"});
    INFO(by_name.err);
    REQUIRE(by_name.exit_code == 0);
    check_mirror_exact(genuine, by_name_db);
    CHECK(genuine.stats().tokens_issued == 1);
}

TEST_CASE("e2e: a missing or unparsable http.ca_file is a configuration error that writes nothing")
{
    fixture_options fo;
    fo.records = 0;
    fixture fx(fo);
    std::vector<std::pair<std::string, fs::path>> cases{
        {"missing file", fx.dir() / "no-such-ca.pem"},
        {"not PEM", fx.dir() / "garbage.pem"},
        {"a directory", fx.dir()},
    };
    write_text(fx.dir() / "garbage.pem", "this is not a certificate\n");
    int n = 0;
    for (const auto& [what, ca] : cases) {
        INFO(what);
        auto db = fx.dir() / fmt::format("ca{}", ++n) / "ditio.db";
        write_text(fx.config(), config_text({fx.server().base_url(), db, ca}));
        auto res = fx.run({"sync"});
        INFO(res.err);
        CHECK(res.signal == 0);
        CHECK(res.exit_code == 2);
        auto lines = nonempty_lines(res.err);
        CHECK_MESSAGE(lines.size() == 1, join_first(lines));
        auto last = lines.empty() ? std::string{} : lines.back();
        CHECK(field(last, "event") == "app.config_error");
        CHECK(contains(field(last, "error"), "http.ca_file"));
        CHECK_FALSE(fs::exists(db));
    }
    CHECK(fx.server().stats().connections_accepted == 0);
}

// ------------------------------------------------------------------------------------- plain http://

TEST_CASE("e2e: plain http:// is refused for a non-loopback host and allowed for loopback")
{
    fixture_options fo;
    fo.records = 0;
    fixture fx(fo);
    // A fake serving plain HTTP on loopback: the positive control.
    testing::fake_options po;
    po.tls = false;
    testing::fake_ditio plain(po);
    plain.start();
    plain.seed(300, 11);
    const auto loopback = fmt::format("http://127.0.0.1:{}", plain.port());

    struct refused_case {
        std::string key;
        std::string url;
    };
    const std::vector<refused_case> refused{
        {"reporting_base", "http://ditio.example.com/reporting"},
        {"identity_base", "http://identity.ditio.app"},
        {"api_base", "HTTP://core-api.ditio.app/core"},
        {"identity_base", "http://127.0.0.1.example.com"},
        {"reporting_base", fmt::format("http://127.0.0.1.example.com:{}/reporting", plain.port())},
        {"identity_base", "http://localhost.example.com"},
        {"identity_base", "http://127.0.0.1@ditio.example.com"},
        {"reporting_base", "http://[::ffff:8.8.8.8]/reporting"},
    };
    int n = 0;
    for (const auto& c : refused) {
        INFO(c.key << " = " << c.url);
        auto db = fx.dir() / fmt::format("refused{}", ++n) / "ditio.db";
        auto text = config_text({loopback, db, {}});
        auto line = fmt::format("{} = \"", c.key);
        auto pos = text.find(line);
        REQUIRE(pos != std::string::npos);
        auto end = text.find('\n', pos);
        text.replace(pos, end - pos, fmt::format("{} = \"{}\"", c.key, c.url));
        write_text(fx.config(), text);
        auto res = fx.run({"sync"});
        INFO(res.err);
        CHECK(res.signal == 0);
        CHECK(res.exit_code == 2);
        auto lines = nonempty_lines(res.err);
        CHECK(lines.size() == 1);
        auto last = lines.empty() ? std::string{} : lines.back();
        CHECK(contains(field(last, "error"), "ditio." + c.key));
        CHECK_FALSE(fs::exists(db));
    }
    CHECK(plain.stats().connections_accepted == 0);

    // The same from the environment (DITIO_REPORTING_BASE overrides the file).
    auto env_db = fx.dir() / "env" / "ditio.db";
    write_text(fx.config(), config_text({loopback, env_db, {}}));
    auto from_env = fx.run({"sync"}, {{"DITIO_REPORTING_BASE", "http://core-api.ditio.app/reporting"}});
    INFO(from_env.err);
    CHECK(from_env.exit_code == 2);
    CHECK(contains(from_env.err, "ditio.reporting_base"));
    CHECK_FALSE(fs::exists(env_db));

    // Loopback over plain HTTP works, by address and by the name localhost.
    for (const auto& base : {loopback, fmt::format("http://localhost:{}", plain.port())}) {
        INFO(base);
        auto db = fx.dir() / fmt::format("allowed{}", ++n) / "ditio.db";
        write_text(fx.config(), config_text({base, db, {}}));
        auto ok = fx.run({"sync"});
        INFO(ok.err);
        REQUIRE(ok.exit_code == 0);
        check_mirror_exact(plain, db);
    }
}

// -------------------------------------------------------------------------------------------- proxy

TEST_CASE("e2e: HTTPS goes through a real tinyproxy with CONNECT and NO_PROXY bypasses it")
{
    fixture fx;
    // ConnectPort limits tunnels to the fake's port: the proxy must be asked for exactly that.
    tinyproxy proxy(fx.dir() / "proxy", fx.server().port());
    const auto target = authority_of(fx.server());

    // 1. http.proxy in the configuration file.
    write_text(
        fx.config(),
        config_text(
            {fx.server().base_url(), fx.db(), fx.pki().ca_cert, fmt::format("proxy = \"{}\"\n", proxy.url())}
        )
    );
    auto via_config = fx.run({"sync"});
    INFO(via_config.err);
    REQUIRE(via_config.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto after_config = proxy.connects_to(target);
    CHECK(after_config >= 1);
    CHECK(proxy.connects() == after_config); // nothing else was tunnelled
    // The proxy saw a tunnel, not the requests: no path, no secret, no token in its log.
    auto proxy_log = proxy.log();
    CHECK(!contains(proxy_log, "connect/token"));
    CHECK(!contains(proxy_log, "time-registrations"));
    CHECK(!contains(proxy_log, fx.secret()));
    for (const auto& token : fx.server().issued_tokens())
        CHECK(!contains(proxy_log, token));
    CHECK(non_json_lines(via_config.err).empty());

    // 2. HTTPS_PROXY from the environment (no http.proxy in the file).
    write_text(fx.config(), config_text({fx.server().base_url(), fx.db(), fx.pki().ca_cert}));
    fx.server().insert(30);
    fx.server().edit(fx.server().pick_live(10, 3));
    auto via_env = fx.run({"sync"}, {{"HTTPS_PROXY", proxy.url()}});
    INFO(via_env.err);
    REQUIRE(via_env.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto after_env = proxy.connects_to(target);
    CHECK(after_env > after_config);

    // The lower-case spelling works too.
    fx.server().insert(5);
    auto via_lower = fx.run({"sync"}, {{"https_proxy", proxy.url()}});
    INFO(via_lower.err);
    REQUIRE(via_lower.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    auto after_lower = proxy.connects_to(target);
    CHECK(after_lower > after_env);

    // 3. NO_PROXY naming the host: the same sync goes direct; the proxy sees no new CONNECT.
    const std::vector<std::pair<std::string, std::string>> bypass{
        {"NO_PROXY", "127.0.0.1"},
        {"no_proxy", "localhost, 127.0.0.1"},
        {"NO_PROXY", "*"},
    };
    for (const auto& [name, value] : bypass) {
        INFO(name << "=" << value);
        fx.server().insert(7);
        fx.server().remove(fx.server().pick_live(3, 17));
        auto before = proxy.connects();
        auto accepted_before = fx.server().stats().connections_accepted;
        auto direct = fx.run({"sync"}, {{"HTTPS_PROXY", proxy.url()}, {name, value}});
        INFO(direct.err);
        REQUIRE(direct.exit_code == 0);
        check_mirror_exact(fx.server(), fx.db());
        CHECK(proxy.connects() == before);
        CHECK(fx.server().stats().connections_accepted > accepted_before);
    }

    // A NO_PROXY entry for another host does not bypass the proxy.
    fx.server().insert(3);
    auto before_other = proxy.connects_to(target);
    auto other =
        fx.run({"sync"}, {{"HTTPS_PROXY", proxy.url()}, {"NO_PROXY", "ditio.example.com,.internal"}});
    INFO(other.err);
    REQUIRE(other.exit_code == 0);
    CHECK(proxy.connects_to(target) > before_other);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_CASE("e2e: a proxy that refuses the CONNECT tunnel fails the sync with exit code 1 naming the proxy")
{
    fixture fx;
    // Only port 443 may be tunnelled: tinyproxy answers 403 to a CONNECT for the fake's port.
    tinyproxy proxy(fx.dir() / "proxy", std::uint16_t{443});
    const auto target = authority_of(fx.server());
    write_text(
        fx.config(),
        config_text(
            {fx.server().base_url(), fx.db(), fx.pki().ca_cert, fmt::format("proxy = \"{}\"\n", proxy.url())}
        )
    );
    auto res = fx.run({"sync"});
    INFO(res.err);
    INFO(proxy.log());
    CHECK(res.signal == 0);
    CHECK(res.exit_code == 1);
    auto error = run_error(res.err);
    CHECK(contains(error, "proxy"));
    CHECK(contains(error, "HTTPS_PROXY"));
    // Asked once: a refused tunnel is a setting to fix, not weather.
    CHECK(proxy.connects_to(target) == 1);
    CHECK(lines_with_event(res.err, "http.retry").empty());
    CHECK(fx.server().stats().connections_accepted == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);
    CHECK(non_json_lines(res.err).empty());
}

TEST_CASE("e2e: a proxy that is down fails the sync with exit code 1 after a bounded number of retries")
{
    fixture fx;
    const auto closed = free_port();
    write_text(
        fx.config(), config_text({fx.server().base_url(), fx.db(), fx.pki().ca_cert, "max_retries = 2\n"})
    );
    auto started = std::chrono::steady_clock::now();
    auto res = fx.run({"sync"}, {{"HTTPS_PROXY", fmt::format("http://127.0.0.1:{}", closed)}});
    auto took = std::chrono::steady_clock::now() - started;
    INFO(res.err);
    CHECK(res.signal == 0);
    CHECK(res.exit_code == 1);
    auto error = run_error(res.err);
    CHECK(contains(error, "gave up after 3 attempts"));
    CHECK(contains(error, "proxy could not be reached"));
    CHECK(lines_with_event(res.err, "http.retry").size() == 2);
    CHECK(took < std::chrono::seconds{20});
    CHECK(fx.server().stats().connections_accepted == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM time_registrations") == 0);
    CHECK(non_json_lines(res.err).empty());
}

// ------------------------------------------------------------------------------- bad configuration

namespace {

struct bad_input {
    std::string what;
    std::vector<std::string> args{"sync"};                    // after --config <file>
    std::string append;                                       // TOML appended to the base configuration
    std::vector<std::pair<std::string, std::string>> replace; // substring replacements in the base
    std::map<std::string, std::string> env;
    std::vector<std::string> expect; // the message names these
    std::vector<std::string> forbid; // and must not contain these (secrets, pasted paths)
    bool cli = false;                // a command-line parse error: plain text from CLI11, not a JSON line
    bool own_config = false;         // args carry their own --config
};

// The base configuration of the table: valid, complete, pointing at the fixture's server. No [log]
// table, since rows append their own.
std::string table_base(fixture& fx, const fs::path& db)
{
    config_params p{fx.server().base_url(), db, fx.pki().ca_cert};
    p.with_log = false;
    return config_text(p);
}

std::vector<bad_input> bad_inputs(const fs::path& dir, std::size_t base_lines)
{
    const std::string pasted = "hunter2-pasted-secret-4f1c";
    std::string huge_key = "a";
    for (int i = 0; i < 50'000; ++i)
        huge_key += ".a";
    write_text(dir / "empty-secret", "\n");
    write_text(dir / "big-secret", std::string(10'000, 's'));
    write_text(dir / "garbage-ca.pem", "not a certificate\n");
    write_text(dir / "creds" / "client_secret", "");
    const auto ditio = std::string("client_id = \"demo-client\"\n");
    const auto http = std::string("[http]\n");
    auto in_ditio = [&](std::string line) {
        return std::vector<std::pair<std::string, std::string>>{{ditio, ditio + line + "\n"}};
    };
    auto in_http = [&](std::string line) {
        return std::vector<std::pair<std::string, std::string>>{{http, http + line + "\n"}};
    };
    auto set_key = [](std::string key, std::string value) {
        // Replaces `key = ...` of the base; the value is raw TOML.
        return std::vector<std::pair<std::string, std::string>>{{key + " = ", key + " = " + value + "\n#"}};
    };
    return {
        // --- keys, sections, types
        {.what = "unknown key",
         .append = "[sync]\nintervall = \"15m\"\n",
         .expect = {"sync.intervall", "unknown key"}},
        {.what = "unknown key in [ditio]",
         .replace = in_ditio("client_secrett = \"x\""),
         .expect = {"ditio.client_secrett"}},
        {.what = "unknown section",
         .append = "[synch]\ninterval = \"15m\"\n",
         .expect = {"synch", "unknown section"}},
        {.what = "unknown key with migrate",
         .args = {"migrate"},
         .append = "[sync]\nintervall = \"15m\"\n",
         .expect = {"sync.intervall"}},
        {.what = "unknown key with status",
         .args = {"status"},
         .append = "[log]\nlevle = \"info\"\n",
         .expect = {"log.levle"}},
        {.what = "unknown key with run",
         .args = {"run"},
         .append = "[sync]\nintervall = \"15m\"\n",
         .expect = {"sync.intervall"}},
        {.what = "inline table as a value",
         .append = "[sync]\nstreams = [\"time-registrations\"]\n[log]\nformat = { a = 1 }\n",
         .expect = {"log.format"}},
        {.what = "chunk_limit of the wrong type",
         .append = "[sync]\nchunk_limit = \"5000\"\n",
         .expect = {"sync.chunk_limit", "integer"}},
        {.what = "chunk_limit 0",
         .append = "[sync]\nchunk_limit = 0\n",
         .expect = {"sync.chunk_limit", "1..10000"}},
        {.what = "chunk_limit 10001",
         .append = "[sync]\nchunk_limit = 10001\n",
         .expect = {"sync.chunk_limit", "1..10000"}},
        {.what = "chunk_limit as a float",
         .append = "[sync]\nchunk_limit = 50.5\n",
         .expect = {"sync.chunk_limit"}},
        {.what = "max_retries -1", .replace = in_http("max_retries = -1"), .expect = {"http.max_retries"}},
        {.what = "max_retries 101", .replace = in_http("max_retries = 101"), .expect = {"http.max_retries"}},
        {.what = "max_body_mb 0", .replace = in_http("max_body_mb = 0"), .expect = {"http.max_body_mb"}},
        {.what = "client_id of the wrong type",
         .replace = set_key("client_id", "5"),
         .expect = {"ditio.client_id"}},
        // --- durations
        {.what = "interval with a unit in words",
         .append = "[sync]\ninterval = \"15 minutes\"\n",
         .expect = {"sync.interval", "15 minutes"}},
        {.what = "interval without a unit",
         .append = "[sync]\ninterval = \"15\"\n",
         .expect = {"sync.interval"}},
        {.what = "interval as a number",
         .append = "[sync]\ninterval = 15\n",
         .expect = {"sync.interval", "string"}},
        {.what = "interval negative", .append = "[sync]\ninterval = \"-5m\"\n", .expect = {"sync.interval"}},
        {.what = "interval empty", .append = "[sync]\ninterval = \"\"\n", .expect = {"sync.interval"}},
        {.what = "interval 0s", .append = "[sync]\ninterval = \"0s\"\n", .expect = {"sync.interval"}},
        {.what = "interval overflowing",
         .append = "[sync]\ninterval = \"99999999999999999d\"\n",
         .expect = {"sync.interval"}},
        {.what = "interval that used to wrap (200000d)",
         .append = "[sync]\ninterval = \"200000d\"\n",
         .expect = {"sync.interval: must be between 1s and 30d"}},
        {.what = "interval that used to wrap (99999999999d)",
         .append = "[sync]\ninterval = \"99999999999d\"\n",
         .expect = {"sync.interval: must be between 1s and 30d"}},
        {.what = "busy_timeout that used to mean no wait (25d)",
         .replace = {{"[storage]\n", "[storage]\nbusy_timeout = \"25d\"\n"}},
         .expect = {"storage.busy_timeout: must be between 0ms and 10m"}},
        {.what = "a stream's interval out of range",
         .append = "[streams.\"user\"]\ninterval = \"31d\"\n",
         .expect = {"streams.\"user\".interval: must be between 1s and 30d"}},
        {.what = "keep_runs_for out of range",
         .replace = {{"[storage]\n", "[storage]\nkeep_runs_for = \"12h\"\n"}},
         .expect = {"storage.keep_runs_for: must be between 1d and 3650d"}},
        {.what = "a key of 50,000 dotted parts",
         .append = huge_key + " = 1\n",
         .expect = {"dotted key of more than 16 parts"}},
        {.what = "a key of 50,000 dotted parts with check",
         .args = {"check"},
         .append = huge_key + " = 1\n",
         .expect = {"dotted key of more than 16 parts"}},
        {.what = "overlap below 1m", .append = "[sync]\noverlap = \"30s\"\n", .expect = {"sync.overlap"}},
        {.what = "overlap above 30d", .append = "[sync]\noverlap = \"31d\"\n", .expect = {"sync.overlap"}},
        {.what = "full_ahead not a duration",
         .append = "[sync]\nfull_ahead = \"1 year\"\n",
         .expect = {"sync.full_ahead"}},
        {.what = "busy_timeout without a unit",
         .replace = {{"[storage]\n", "[storage]\nbusy_timeout = \"5\"\n"}},
         .expect = {"storage.busy_timeout"}},
        {.what = "http.timeout 0s", .replace = set_key("timeout", "\"0s\""), .expect = {"http.timeout"}},
        {.what = "http.timeout with a bad unit",
         .replace = set_key("timeout", "\"10sec\""),
         .expect = {"http.timeout"}},
        {.what = "retry_initial above retry_max",
         .replace = set_key("retry_initial", "\"2s\""),
         .expect = {"http.retry_initial"}},
        // --- values
        {.what = "full_from month 13",
         .append = "[sync]\nfull_from = \"2020-13-01\"\n",
         .expect = {"sync.full_from", "2020-13-01"}},
        {.what = "full_from with a time",
         .append = "[sync]\nfull_from = \"2020-01-01T00:00:00Z\"\n",
         .expect = {"sync.full_from"}},
        {.what = "unknown stream",
         .append = "[sync]\nstreams = [\"time-registration\"]\n",
         .expect = {"sync.streams", "time-registration"}},
        {.what = "duplicate stream",
         .append = "[sync]\nstreams = [\"time-registrations\", \"time-registrations\"]\n",
         .expect = {"sync.streams", "twice"}},
        {.what = "no stream", .append = "[sync]\nstreams = []\n", .expect = {"sync.streams"}},
        {.what = "streams as a string",
         .append = "[sync]\nstreams = \"time-registrations\"\n",
         .expect = {"sync.streams"}},
        {.what = "bad log.level", .append = "[log]\nlevel = \"loud\"\n", .expect = {"log.level", "loud"}},
        {.what = "bad log.format", .append = "[log]\nformat = \"xml\"\n", .expect = {"log.format", "xml"}},
        // An explicit scope is asked for as written (docs/live-ditio.md section 4); only a blank one is
        // wrong.
        {.what = "blank scope", .replace = in_ditio("scope = \"   \""), .expect = {"ditio.scope"}},
        {.what = "empty storage.path", .replace = set_key("path", "\"\""), .expect = {"storage.path"}},
        {.what = "storage.path of the wrong type",
         .replace = set_key("path", "5"),
         .expect = {"storage.path", "string"}},
        // --- URLs
        {.what = "URL without a scheme",
         .replace = set_key("reporting_base", "\"core-api.ditio.app/reporting\""),
         .expect = {"ditio.reporting_base"}},
        {.what = "URL with another scheme",
         .replace = set_key("identity_base", "\"ftp://identity.ditio.app\""),
         .expect = {"ditio.identity_base"}},
        {.what = "URL with a query",
         .replace = set_key("api_base", "\"https://core-api.ditio.app/core?x=1\""),
         .expect = {"ditio.api_base"}},
        {.what = "URL with a bad port",
         .replace = set_key("api_base", "\"https://core-api.ditio.app:99999/core\""),
         .expect = {"ditio.api_base"}},
        {.what = "URL from the environment without a scheme",
         .env = {{"DITIO_API_BASE", "core-api.ditio.app/core"}},
         .expect = {"ditio.api_base"}},
        {.what = "plain http to a non-loopback host",
         .replace = set_key("reporting_base", "\"http://ditio.example.com/reporting\""),
         .expect = {"ditio.reporting_base", "http://"}},
        {.what = "plain http to a loopback look-alike",
         .replace = set_key("identity_base", "\"http://127.0.0.1.example.com\""),
         .expect = {"ditio.identity_base", "http://"}},
        {.what = "http.proxy without a scheme",
         .replace = in_http("proxy = \"proxy.example:3128\""),
         .expect = {"http.proxy"}},
        {.what = "http.proxy with a password",
         .replace = in_http("proxy = \"http://user:" + pasted + "@proxy.example:3128\""),
         .expect = {"http.proxy"},
         .forbid = {pasted}},
        {.what = "HTTPS_PROXY without a scheme",
         .env = {{"HTTPS_PROXY", "proxy.example:3128"}},
         .expect = {"HTTPS_PROXY"}},
        {.what = "https_proxy with another scheme",
         .env = {{"https_proxy", "socks5://127.0.0.1:1080"}},
         .expect = {"https_proxy"}},
        {.what = "HTTPS_PROXY with a password",
         .env = {{"HTTPS_PROXY", "http://user:" + pasted + "@proxy.example:3128"}},
         .expect = {"HTTPS_PROXY"},
         .forbid = {pasted}},
        {.what = "http.ca_file missing",
         .replace = set_key("ca_file", "\"" + (dir / "no-such-ca.pem").string() + "\""),
         .expect = {"http.ca_file"}},
        {.what = "http.ca_file not PEM",
         .replace = set_key("ca_file", "\"" + (dir / "garbage-ca.pem").string() + "\""),
         .expect = {"http.ca_file"}},
        {.what = "http.ca_file not PEM with check",
         .args = {"check"},
         .replace = set_key("ca_file", "\"" + (dir / "garbage-ca.pem").string() + "\""),
         .expect = {"http.ca_file"}},
        {.what = "http.ca_file missing with run",
         .args = {"run"},
         .replace = set_key("ca_file", "\"" + (dir / "no-such-ca.pem").string() + "\""),
         .expect = {"http.ca_file"}},
        // --- credentials
        {.what = "missing client_id", .replace = {{ditio, ""}}, .expect = {"ditio.client_id"}},
        {.what = "missing secret", .env = {{"DITIO_CLIENT_SECRET", ""}}, .expect = {"client_secret"}},
        {.what = "missing secret with check",
         .args = {"check"},
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"client_secret"}},
        {.what = "client_secret_file missing",
         .replace = in_ditio("client_secret_file = \"" + (dir / pasted).string() + "\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_file"},
         .forbid = {pasted}},
        {.what = "client_secret_file empty",
         .replace = in_ditio("client_secret_file = \"" + (dir / "empty-secret").string() + "\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_file"},
         .forbid = {"empty-secret"}},
        {.what = "client_secret_file /dev/zero",
         .replace = in_ditio("client_secret_file = \"/dev/zero\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_file", "not a regular file"}},
        {.what = "client_secret_file too large",
         .replace = in_ditio("client_secret_file = \"" + (dir / "big-secret").string() + "\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_file", "at most 4096 bytes"},
         .forbid = {std::string(100, 's')}},
        {.what = "URL with a user and password",
         .replace = set_key("identity_base", "\"https://user:" + pasted + "@identity.example\""),
         .expect = {"ditio.identity_base"},
         .forbid = {pasted}},
        {.what = "client_secret_file a directory",
         .replace = in_ditio("client_secret_file = \"" + dir.string() + "\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_file"}},
        {.what = "empty systemd credential",
         .env = {{"DITIO_CLIENT_SECRET", ""}, {"CREDENTIALS_DIRECTORY", (dir / "creds").string()}},
         .expect = {"CREDENTIALS_DIRECTORY"}},
        {.what = "inline secret with an unknown key",
         .replace = in_ditio("client_secret = \"" + pasted + "\"\nclient_secret_fil = \"x\""),
         .env = {{"DITIO_CLIENT_SECRET", ""}},
         .expect = {"ditio.client_secret_fil"},
         .forbid = {pasted}},
        // --- TOML syntax
        {.what = "TOML syntax error",
         .append = "[sync\ninterval = \"15m\"\n",
         .expect = {fmt::format(":{}:", base_lines + 1)}},
        {.what = "duplicate key",
         .append = "[sync]\ninterval = \"15m\"\ninterval = \"20m\"\n",
         .expect = {fmt::format(":{}:", base_lines + 3)}},
        {.what = "duplicate section",
         .append = "[http]\ntimeout = \"5s\"\n",
         .expect = {fmt::format(":{}:", base_lines + 1)}},
        {.what = "unterminated string",
         .append = "[sync]\ninterval = \"15m\n",
         .expect = {fmt::format(":{}:", base_lines + 2)}},
        // --- the command line
        {.what = "config file that does not exist",
         .args = {"--config", "/nonexistent/ditio-sync.toml", "sync"},
         .expect = {"/nonexistent/ditio-sync.toml", "not found"},
         .own_config = true},
        {.what = "config file that is a directory",
         .args = {"--config", dir.string(), "sync"},
         .expect = {dir.string()},
         .own_config = true},
        {.what = "config file that is a directory with migrate",
         .args = {"--config", dir.string(), "migrate"},
         .expect = {dir.string()},
         .own_config = true},
        {.what = "unknown command", .args = {"frobnicate"}, .expect = {"frobnicate"}, .cli = true},
        {.what = "no command", .args = {}, .expect = {"subcommand"}, .cli = true},
        {.what = "unknown option", .args = {"--frobnicate", "sync"}, .expect = {"--frobnicate"}, .cli = true},
        {.what = "unknown option of sync", .args = {"sync", "--bogus"}, .expect = {"--bogus"}, .cli = true},
        {.what = "unknown option of status", .args = {"status", "--yaml"}, .expect = {"--yaml"}, .cli = true},
        {.what = "--config given twice",
         .args = {"--config", "/etc/other.toml", "sync"},
         .expect = {"--config"},
         .cli = true},
        {.what = "--config without a value",
         .args = {"--config"},
         .expect = {"--config"},
         .cli = true,
         .own_config = true},
        {.what = "reset without a stream", .args = {"reset"}, .expect = {"stream"}, .cli = true},
        {.what = "reset of an unknown stream",
         .args = {"reset", "no-such-stream"},
         .expect = {"no-such-stream"}},
        {.what = "status of an unknown stream",
         .args = {"status", "time-registrations", "no-such-stream"},
         .expect = {"no-such-stream"}},
        {.what = "sync of an unknown stream",
         .args = {"sync", "no-such-stream"},
         .expect = {"no-such-stream"}},
        {.what = "sync of a known and an unknown stream",
         .args = {"sync", "time-registrations", "no-such-stream"},
         .expect = {"no-such-stream"}},
        {.what = "--log-format xml",
         .args = {"--log-format", "xml", "sync"},
         .expect = {"--log-format", "xml"},
         .cli = true},
        {.what = "--log-level loud",
         .args = {"--log-level", "loud", "sync"},
         .expect = {"--log-level", "loud"},
         .cli = true},
    };
}

struct mirror_state {
    std::int64_t rows = 0;
    std::string sync_state;
    std::int64_t runs = 0;
    std::optional<std::string> schema;
    bool operator==(const mirror_state&) const = default;
};

mirror_state state_of(const fs::path& db)
{
    return {
        query_int(db, "SELECT count(*) FROM time_registrations"),
        query_text(
            db,
            "SELECT group_concat(json_array(stream, watermark, run_id, run_params, continuation_token, "
            "pages_done, last_success_at, last_error, updated_at), ';') "
            "FROM sync_state"
        )
            .value_or(""),
        query_int(db, "SELECT count(*) FROM sync_runs"),
        query_text(db, "PRAGMA user_version"),
    };
}

// Runs one row and checks what every row must satisfy; returns the result for further checks.
process_result run_row(fixture& fx, const bad_input& row, const fs::path& db, const std::string& tag)
{
    auto text = table_base(fx, db);
    for (const auto& [from, to] : row.replace) {
        auto pos = text.find(from);
        REQUIRE_MESSAGE(pos != std::string::npos, "the base configuration has no '" << from << "'");
        text.replace(pos, from.size(), to);
    }
    text += row.append;
    auto config = fx.dir() / (tag + ".toml");
    write_text(config, text);
    std::vector<std::string> args;
    auto env = row.env;
    if (!row.own_config)
        args = {"--config", config.string()};
    else // no configuration file of ours: keep the database inside the test directory whatever happens
        env.emplace("DITIO_SYNC_DB", db.string());
    args.insert(args.end(), row.args.begin(), row.args.end());
    auto res = run_binary(fx.dir(), tag, args, env);

    INFO("stderr: " << res.err);
    INFO("config:\n" << text);
    CHECK(res.signal == 0);
    CHECK(res.exit_code == 2);
    CHECK(res.out.empty());
    auto lines = nonempty_lines(res.err);
    std::string message;
    // A failing row must not stop the others: no REQUIRE from here on.
    CHECK_MESSAGE(!lines.empty(), "nothing on stderr");
    if (lines.empty()) {
    } else if (row.cli) {
        // CLI11 prints the problem, then one hint line pointing at --help.
        message = lines.front();
        CHECK(lines.size() <= 2);
        if (lines.size() == 2)
            CHECK(contains(lines[1], "--help"));
    } else {
        CHECK_MESSAGE(lines.size() == 1, join_first(lines));
        const auto& line = lines.back();
        auto event = field(line, "event");
        CHECK((event == "app.config_error" || event == "app.usage_error"));
        CHECK(contains(line, "\"exit_code\":2"));
        message = field(line, "error");
    }
    for (const auto& e : row.expect)
        CHECK_MESSAGE(contains(message, e), "the message should name '" << e << "': " << message);
    for (const auto& f : row.forbid) {
        CHECK_MESSAGE(!contains(res.err, f), "stderr echoes '" << f << "'");
        CHECK(!contains(res.out, f));
    }
    CHECK(!contains(res.err, fx.secret()));
    return res;
}

} // namespace

TEST_CASE(
    "e2e: every bad key, value, duration, URL, credential or argument exits 2 with one line and no database"
)
{
    fixture fx;
    const auto base_text = table_base(fx, fx.db());
    const auto base_lines = static_cast<std::size_t>(std::count(base_text.begin(), base_text.end(), '\n'));
    auto rows = bad_inputs(fx.dir(), base_lines);
    // Sanity: the base configuration itself is valid (so each row fails because of its own change).
    {
        bad_input valid{.what = "valid", .args = {"migrate"}};
        auto db = fx.dir() / "valid" / "ditio.db";
        auto config = fx.dir() / "valid.toml";
        write_text(config, table_base(fx, db));
        auto res = run_binary(fx.dir(), "valid", {"--config", config.string(), "migrate"}, {});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
        REQUIRE(fs::exists(db));
    }
    int n = 0;
    for (const auto& row : rows) {
        INFO("row: " << row.what);
        auto db = fx.dir() / fmt::format("row{}", ++n) / "data" / "ditio.db";
        run_row(fx, row, db, fmt::format("row{}", n));
        CHECK_MESSAGE(!fs::exists(db), "the database was created");
        CHECK(!fs::exists(db.string() + "-wal"));
        CHECK(!fs::exists(db.string() + ".lock"));
    }
    // None of them talked to Ditio.
    CHECK(fx.server().stats().connections_accepted == 0);
}

TEST_CASE("e2e: bad configuration and arguments leave an existing mirror untouched")
{
    fixture fx;
    {
        auto first = fx.run({"sync"});
        INFO(first.err);
        REQUIRE(first.exit_code == 0);
    }
    const auto before = state_of(fx.db());
    REQUIRE(before.rows > 0);
    REQUIRE(!before.sync_state.empty());
    const auto connections = fx.server().stats().connections_accepted;

    const auto base_text = table_base(fx, fx.db());
    const auto base_lines = static_cast<std::size_t>(std::count(base_text.begin(), base_text.end(), '\n'));
    int n = 0;
    for (const auto& row : bad_inputs(fx.dir(), base_lines)) {
        INFO("row: " << row.what);
        run_row(fx, row, fx.db(), fmt::format("existing{}", ++n));
        CHECK(state_of(fx.db()) == before);
    }
    CHECK(fx.server().stats().connections_accepted == connections);
    check_mirror_exact(fx.server(), fx.db());
}

TEST_SUITE_END();

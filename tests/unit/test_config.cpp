// Unit tests for config/config.hpp: parsing, environment overrides, validation, client-secret resolution.
#include <ditio_sync/config/config.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <support/temp_dir.hpp>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace cfg = ditio_sync::config;
using namespace std::chrono_literals;

using ditio_sync::testing::temp_dir;

// An env_lookup backed by a map: tests never touch the process environment.
cfg::env_lookup env_of(std::map<std::string, std::string> vars)
{
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        if (auto it = vars.find(std::string(name)); it != vars.end())
            return it->second;
        return std::nullopt;
    };
}

// The message of the config_error that parse() throws for `toml`, or "" when it does not throw.
std::string parse_error(std::string_view toml)
{
    try {
        (void)cfg::parse(toml, "test.toml");
    } catch (const cfg::config_error& e) {
        return e.what();
    }
    return {};
}

constexpr std::array<std::string_view, 3> known_streams{"time-registrations", "project", "user"};

// The message of the config_error that validate() throws, or "" when the config is accepted.
std::string validate_error(const cfg::config& c, cfg::need_credentials creds = cfg::need_credentials::no)
{
    try {
        cfg::validate(c, known_streams, creds);
    } catch (const cfg::config_error& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

std::string fmt_ms(std::chrono::milliseconds d)
{
    return std::to_string(d.count()) + "ms";
}

} // namespace

TEST_SUITE_BEGIN("config");

TEST_CASE("config: one key, one meaning: push.company_id writes, sync.company_id filters, the old key both")
{
    SUBCASE("push.company_id alone filters nothing")
    {
        auto c = cfg::parse("[push]\ncompany_id = \"A\"\n", "test.toml");
        CHECK(cfg::company_to_write(c) == "A");
        CHECK(cfg::company_filter(c) == "");
    }
    SUBCASE("sync.company_id alone writes nowhere")
    {
        auto c = cfg::parse("[sync]\ncompany_id = \"B\"\n", "test.toml");
        CHECK(cfg::company_to_write(c) == "");
        CHECK(cfg::company_filter(c) == "B");
    }
    SUBCASE("the deprecated ditio.company_id means both, as it did")
    {
        auto c = cfg::parse("[ditio]\ncompany_id = \"C\"\n", "test.toml");
        CHECK(cfg::company_to_write(c) == "C");
        CHECK(cfg::company_filter(c) == "C");
    }
    SUBCASE("each new key wins over the old one for its meaning; an empty sync.company_id filters nothing")
    {
        auto c = cfg::parse(
            "[ditio]\ncompany_id = \"C\"\n[push]\ncompany_id = \"A\"\n[sync]\ncompany_id = \"\"\n",
            "test.toml"
        );
        CHECK(cfg::company_to_write(c) == "A");
        CHECK(cfg::company_filter(c) == "");
    }
}

TEST_CASE("config: an empty file gives the documented defaults")
{
    auto c = cfg::parse("", "test.toml");
    CHECK(c.ditio.identity_base == "https://identity.ditio.app");
    CHECK(c.ditio.api_base == "https://core-api.ditio.app/core");
    CHECK(c.ditio.reporting_base == "https://core-api.ditio.app/reporting");
    CHECK(c.ditio.client_id.empty());
    CHECK(c.ditio.client_secret.empty());
    CHECK(c.ditio.client_secret_file.empty());
    CHECK(c.ditio.scope.empty()); // the scopes the enabled features need
    CHECK(c.ditio.company_id.empty());
    CHECK(c.push.company_id.empty());
    CHECK_FALSE(c.sync.company_id.has_value());
    CHECK(c.storage.path == fs::path("/var/lib/ditio-sync/ditio.db"));
    CHECK(c.storage.busy_timeout == 5s);
    CHECK(c.sync.interval == 15min);
    CHECK(c.sync.overlap == 10min);
    CHECK(c.sync.chunk_limit == 5000);
    CHECK(c.sync.full_from == "2020-01-01");
    CHECK(c.sync.full_ahead == std::chrono::hours{24 * 366});
    CHECK(c.sync.streams == std::vector<std::string>{"time-registrations"});
    CHECK(c.http.timeout == 60s);
    CHECK(c.http.ca_file.empty());
    CHECK(c.http.proxy.empty());
    CHECK(c.http.max_body_bytes == 256u * 1024u * 1024u);
    CHECK(c.http.max_retries == 6);
    CHECK(c.http.retry_initial == 1s);
    CHECK(c.http.retry_max == 60s);
    CHECK(c.log.level == "info");
    CHECK_FALSE(c.log.format.has_value());

    // The defaults are valid on their own when no credentials are needed.
    CHECK(validate_error(c) == "");
}

TEST_CASE("config: every key of every section is parsed")
{
    auto c = cfg::parse(
        R"(
[ditio]
identity_base = "https://id.example.test"
api_base = "https://api.example.test/core"
reporting_base = "https://api.example.test/reporting"
client_id = "my-client"
client_secret = "inline-secret"
client_secret_file = "/run/secrets/ditio"
scope = "reportingapiv1"
company_id = "5f0c3a9e1d2b4c6a8e0f1a2b"

[storage]
path = "/srv/ditio/mirror.db"
busy_timeout = "250ms"

[sync]
interval = "5m"
overlap = "2h"
chunk_limit = 1234
full_from = "2023-06-01"
full_ahead = "30d"
streams = ["time-registrations", "project"]

[http]
timeout = "90s"
ca_file = "/etc/ssl/extra.pem"
proxy = "http://proxy.example.test:3128"
max_body_mb = 64
max_retries = 3
retry_initial = "500ms"
retry_max = "2m"

[log]
level = "debug"
format = "text"
)",
        "test.toml"
    );
    CHECK(c.ditio.identity_base == "https://id.example.test");
    CHECK(c.ditio.api_base == "https://api.example.test/core");
    CHECK(c.ditio.reporting_base == "https://api.example.test/reporting");
    CHECK(c.ditio.client_id == "my-client");
    CHECK(c.ditio.client_secret == "inline-secret");
    CHECK(c.ditio.client_secret_file == "/run/secrets/ditio");
    CHECK(c.ditio.scope == "reportingapiv1");
    CHECK(c.ditio.company_id == "5f0c3a9e1d2b4c6a8e0f1a2b");
    CHECK(c.storage.path == fs::path("/srv/ditio/mirror.db"));
    CHECK(c.storage.busy_timeout == 250ms);
    CHECK(c.sync.interval == 5min);
    CHECK(c.sync.overlap == 2h);
    CHECK(c.sync.chunk_limit == 1234);
    CHECK(c.sync.full_from == "2023-06-01");
    CHECK(c.sync.full_ahead == std::chrono::hours{24 * 30});
    CHECK(c.sync.streams == std::vector<std::string>{"time-registrations", "project"});
    CHECK(c.http.timeout == 90s);
    CHECK(c.http.ca_file == "/etc/ssl/extra.pem");
    CHECK(c.http.proxy == "http://proxy.example.test:3128");
    CHECK(c.http.max_body_bytes == 64u * 1024u * 1024u);
    CHECK(c.http.max_retries == 3);
    CHECK(c.http.retry_initial == 500ms);
    CHECK(c.http.retry_max == 2min);
    CHECK(c.log.level == "debug");
    REQUIRE(c.log.format.has_value());
    CHECK(*c.log.format == cfg::log_format::text);

    CHECK(validate_error(c, cfg::need_credentials::yes) == "");
}

TEST_CASE("config: log.format json and the chunk_limit bounds are accepted")
{
    auto c = cfg::parse("[log]\nformat = \"json\"\n[sync]\nchunk_limit = 1\n", "test.toml");
    REQUIRE(c.log.format.has_value());
    CHECK(*c.log.format == cfg::log_format::json);
    CHECK(c.sync.chunk_limit == 1);
    CHECK(cfg::parse("[sync]\nchunk_limit = 10000\n", "test.toml").sync.chunk_limit == 10000);
    CHECK(cfg::parse("[sync]\nstreams = []\n", "test.toml").sync.streams.empty());
}

TEST_CASE("config: a bad file is an error that names the key")
{
    SUBCASE("unknown key")
    {
        auto msg = parse_error("[sync]\nintervall = \"15m\"\n");
        CHECK(contains(msg, "sync.intervall"));
        CHECK(contains(msg, "unknown key"));
        CHECK(contains(msg, "test.toml"));
    }
    SUBCASE("unknown section")
    {
        auto msg = parse_error("[syncing]\ninterval = \"15m\"\n");
        CHECK(contains(msg, "syncing"));
        CHECK(contains(msg, "unknown section"));
        CHECK(contains(msg, "valid: ditio, storage, sync,"));
        CHECK(contains(msg, ", streams)"));
    }
    SUBCASE("a mistyped key or section says what was meant, then every valid name")
    {
        CHECK(contains(
            parse_error("[sync]\nintervall = \"15m\"\n"),
            "sync.intervall: unknown key (did you mean 'interval'? valid: interval, overlap,"
        ));
        CHECK(contains(parse_error("[synch]\ninterval = \"15m\"\n"), "unknown section (did you mean 'sync'?")
        );
        CHECK(contains(parse_error("[ditio]\nclient_secrett = \"x\"\n"), "did you mean 'client_secret'?"));
        // The suggestion never echoes a value.
        CHECK(!contains(parse_error("[ditio]\nclient_secrett = \"hunter2\"\n"), "hunter2"));
    }
    SUBCASE("top-level key outside any section")
    {
        auto msg = parse_error("interval = \"15m\"\n");
        CHECK(contains(msg, "interval"));
    }
    SUBCASE("known section name used as a plain key")
    {
        auto msg = parse_error("sync = 5\n");
        CHECK(contains(msg, "sync"));
        CHECK(contains(msg, "table"));
    }
    SUBCASE("string where an integer belongs")
    {
        auto msg = parse_error("[sync]\nchunk_limit = \"5000\"\n");
        CHECK(contains(msg, "sync.chunk_limit"));
        CHECK(contains(msg, "integer"));
    }
    SUBCASE("integer where a string belongs")
    {
        auto msg = parse_error("[ditio]\nclient_id = 42\n");
        CHECK(contains(msg, "ditio.client_id"));
        CHECK(contains(msg, "string"));
    }
    SUBCASE("integer where a duration string belongs")
    {
        auto msg = parse_error("[sync]\ninterval = 900\n");
        CHECK(contains(msg, "sync.interval"));
    }
    SUBCASE("streams not an array")
    {
        auto msg = parse_error("[sync]\nstreams = \"time-registrations\"\n");
        CHECK(contains(msg, "sync.streams"));
    }
    SUBCASE("streams with a non-string item")
    {
        auto msg = parse_error("[sync]\nstreams = [\"time-registrations\", 7]\n");
        CHECK(contains(msg, "sync.streams"));
    }
    SUBCASE("bad duration without a unit")
    {
        auto msg = parse_error("[sync]\ninterval = \"15\"\n");
        CHECK(contains(msg, "sync.interval"));
        CHECK(contains(msg, "'15'"));
    }
    SUBCASE("bad duration with a fraction")
    {
        auto msg = parse_error("[http]\ntimeout = \"1.5m\"\n");
        CHECK(contains(msg, "http.timeout"));
    }
    SUBCASE("bad duration in storage.busy_timeout")
    {
        auto msg = parse_error("[storage]\nbusy_timeout = \"soon\"\n");
        CHECK(contains(msg, "storage.busy_timeout"));
    }
    SUBCASE("chunk_limit 0")
    {
        auto msg = parse_error("[sync]\nchunk_limit = 0\n");
        CHECK(contains(msg, "sync.chunk_limit"));
        CHECK(contains(msg, "1..10000"));
    }
    SUBCASE("chunk_limit 10001")
    {
        auto msg = parse_error("[sync]\nchunk_limit = 10001\n");
        CHECK(contains(msg, "sync.chunk_limit"));
    }
    SUBCASE("max_body_mb 0")
    {
        CHECK(contains(parse_error("[http]\nmax_body_mb = 0\n"), "http.max_body_mb"));
    }
    SUBCASE("max_retries negative")
    {
        CHECK(contains(parse_error("[http]\nmax_retries = -1\n"), "http.max_retries"));
    }
    SUBCASE("max_retries too large")
    {
        CHECK(contains(parse_error("[http]\nmax_retries = 101\n"), "http.max_retries"));
    }
    SUBCASE("log.format xml")
    {
        auto msg = parse_error("[log]\nformat = \"xml\"\n");
        CHECK(contains(msg, "log.format"));
        CHECK(contains(msg, "xml"));
    }
    SUBCASE("TOML syntax error reports the line")
    {
        auto msg = parse_error("[sync]\ninterval = \"15m\"\nchunk_limit = = 5\n");
        CHECK(contains(msg, "test.toml:3:"));
    }
}

TEST_CASE("config: load reads the file and the environment overrides it")
{
    temp_dir dir;
    auto file = dir.write(
        "ditio-sync.toml",
        "[ditio]\nidentity_base = \"https://id.file.test\"\napi_base = \"https://api.file.test\"\n"
        "reporting_base = \"https://rep.file.test\"\nclient_id = \"file-client\"\n"
        "[storage]\npath = \"/file/ditio.db\"\n[sync]\nchunk_limit = 77\n"
    );

    SUBCASE("file only")
    {
        auto c = cfg::load(file, true, env_of({}));
        CHECK(c.ditio.identity_base == "https://id.file.test");
        CHECK(c.ditio.api_base == "https://api.file.test");
        CHECK(c.ditio.reporting_base == "https://rep.file.test");
        CHECK(c.ditio.client_id == "file-client");
        CHECK(c.storage.path == fs::path("/file/ditio.db"));
        CHECK(c.sync.chunk_limit == 77);
    }
    SUBCASE("environment wins over the file")
    {
        auto c = cfg::load(
            file,
            true,
            env_of({
                {"DITIO_IDENTITY_BASE", "https://id.env.test"},
                {"DITIO_API_BASE", "https://api.env.test"},
                {"DITIO_REPORTING_BASE", "https://rep.env.test"},
                {"DITIO_CLIENT_ID", "env-client"},
                {"DITIO_SYNC_DB", "/env/ditio.db"},
            })
        );
        CHECK(c.ditio.identity_base == "https://id.env.test");
        CHECK(c.ditio.api_base == "https://api.env.test");
        CHECK(c.ditio.reporting_base == "https://rep.env.test");
        CHECK(c.ditio.client_id == "env-client");
        CHECK(c.storage.path == fs::path("/env/ditio.db"));
        // Keys without an environment variable keep the file's value.
        CHECK(c.sync.chunk_limit == 77);
    }
    SUBCASE("each variable overrides only its own key")
    {
        auto c = cfg::load(file, true, env_of({{"DITIO_REPORTING_BASE", "https://rep.env.test"}}));
        CHECK(c.ditio.reporting_base == "https://rep.env.test");
        CHECK(c.ditio.identity_base == "https://id.file.test");
        CHECK(c.ditio.api_base == "https://api.file.test");
        CHECK(c.ditio.client_id == "file-client");
        CHECK(c.storage.path == fs::path("/file/ditio.db"));
    }
    SUBCASE("a bad file is reported with its path")
    {
        auto bad = dir.write("bad.toml", "[sync]\nintervall = \"1m\"\n");
        try {
            (void)cfg::load(bad, false, env_of({}));
            FAIL("load accepted an unknown key");
        } catch (const cfg::config_error& e) {
            CHECK(contains(e.what(), bad.string()));
            CHECK(contains(e.what(), "sync.intervall"));
        }
    }
}

TEST_CASE("config: a missing file is fine unless it is required")
{
    temp_dir dir;
    auto missing = dir.path() / "nope.toml";

    auto c = cfg::load(missing, false, env_of({{"DITIO_CLIENT_ID", "env-client"}}));
    CHECK(c.ditio.client_id == "env-client");
    CHECK(c.sync.chunk_limit == 5000);
    CHECK(c.ditio.identity_base == "https://identity.ditio.app");

    try {
        (void)cfg::load(missing, true, env_of({}));
        FAIL("load accepted a missing required file");
    } catch (const cfg::config_error& e) {
        CHECK(contains(e.what(), missing.string()));
    }
}

TEST_CASE("config: validate refuses plain http except on loopback")
{
    cfg::config c;
    SUBCASE("http to a remote host, for each base")
    {
        c.ditio.identity_base = "http://identity.ditio.app";
        CHECK(contains(validate_error(c), "ditio.identity_base"));
        c.ditio.identity_base = "https://identity.ditio.app";
        c.ditio.api_base = "http://core-api.ditio.app/core";
        CHECK(contains(validate_error(c), "ditio.api_base"));
        c.ditio.api_base = "https://core-api.ditio.app/core";
        c.ditio.reporting_base = "http://10.0.0.5:8080/reporting";
        CHECK(contains(validate_error(c), "ditio.reporting_base"));
    }
    SUBCASE("loopback hosts are allowed")
    {
        for (const std::string base :
             {"http://127.0.0.1:8080", "http://localhost:8443/x", "http://[::1]:9000/reporting"}) {
            CAPTURE(base);
            c.ditio.identity_base = base;
            c.ditio.api_base = base;
            c.ditio.reporting_base = base;
            CHECK(validate_error(c) == "");
        }
    }
    SUBCASE("a DNS name that merely starts like a loopback address is not loopback")
    {
        c.ditio.reporting_base = "http://127.0.0.1.example.com/reporting";
        CHECK(contains(validate_error(c), "ditio.reporting_base"));
    }
}

TEST_CASE("config: validate refuses bad values and combinations, naming the key")
{
    cfg::config c;
    SUBCASE("non-URL base")
    {
        c.ditio.identity_base = "identity.ditio.app";
        CHECK(contains(validate_error(c), "ditio.identity_base"));
    }
    SUBCASE("empty base")
    {
        c.ditio.api_base = "";
        CHECK(contains(validate_error(c), "ditio.api_base"));
    }
    SUBCASE("other scheme")
    {
        c.ditio.reporting_base = "ftp://core-api.ditio.app/reporting";
        CHECK(contains(validate_error(c), "ditio.reporting_base"));
    }
    SUBCASE("client_id required only when credentials are needed")
    {
        CHECK(validate_error(c, cfg::need_credentials::no) == "");
        CHECK(contains(validate_error(c, cfg::need_credentials::yes), "ditio.client_id"));
        c.ditio.client_id = "someone";
        CHECK(validate_error(c, cfg::need_credentials::yes) == "");
    }
    SUBCASE("an explicit scope is respected, whichever scopes it names")
    {
        c.ditio.scope = "ditioapiv3";
        CHECK(validate_error(c) == "");
    }
    SUBCASE("a blank scope")
    {
        c.ditio.scope = "   ";
        CHECK(contains(validate_error(c), "ditio.scope"));
    }
    SUBCASE("unknown stream")
    {
        c.sync.streams = {"time-registrations", "timeregistrations"};
        auto msg = validate_error(c);
        CHECK(contains(msg, "sync.streams"));
        CHECK(contains(msg, "timeregistrations"));
    }
    SUBCASE("duplicate stream")
    {
        c.sync.streams = {"project", "time-registrations", "project"};
        auto msg = validate_error(c);
        CHECK(contains(msg, "sync.streams"));
        CHECK(contains(msg, "project"));
    }
    SUBCASE("no stream")
    {
        c.sync.streams.clear();
        CHECK(contains(validate_error(c), "sync.streams"));
    }
    SUBCASE("several known streams are fine")
    {
        c.sync.streams = {"user", "project", "time-registrations"};
        CHECK(validate_error(c) == "");
    }
    SUBCASE("full_from not a date")
    {
        for (const std::string bad :
             {"yesterday", "2020-13-01", "2020-02-30", "2020-01-01T00:00:00Z", "", "20200101"}) {
            CAPTURE(bad);
            c.sync.full_from = bad;
            CHECK(contains(validate_error(c), "sync.full_from"));
        }
    }
    SUBCASE("proxy not http://host:port")
    {
        for (const std::string bad :
             {"proxy.example.test:3128",
              "https://proxy.example.test:3128",
              "socks5://p:1080",
              "http://:3128",
              "not a url"}) {
            CAPTURE(bad);
            c.http.proxy = bad;
            CHECK(contains(validate_error(c), "http.proxy"));
        }
        c.http.proxy = "http://proxy.example.test:3128";
        CHECK(validate_error(c) == "");
    }
    SUBCASE("interval below one second")
    {
        c.sync.interval = 500ms;
        CHECK(contains(validate_error(c), "sync.interval"));
    }
    SUBCASE("overlap above 30 days")
    {
        c.sync.overlap = std::chrono::hours{24 * 31};
        CHECK(contains(validate_error(c), "sync.overlap"));
    }
    SUBCASE("http timeout below one second")
    {
        c.http.timeout = 10ms;
        CHECK(contains(validate_error(c), "http.timeout"));
    }
    SUBCASE("retry_initial above retry_max")
    {
        c.http.retry_initial = 2min;
        c.http.retry_max = 1min;
        CHECK(contains(validate_error(c), "http.retry_initial"));
    }
    SUBCASE("unknown log level")
    {
        c.log.level = "verbose";
        CHECK(contains(validate_error(c), "log.level"));
    }
    SUBCASE("empty storage path")
    {
        c.storage.path.clear();
        CHECK(contains(validate_error(c), "storage.path"));
    }
}

TEST_CASE("config: resolve_client_secret takes the first source that is set")
{
    temp_dir dir;
    auto creds = dir.path() / "credentials";
    fs::create_directories(creds);
    {
        std::ofstream(creds / "client_secret", std::ios::binary) << "from-credentials\n";
    }
    auto file = dir.write("secret.txt", "from-file\n");

    cfg::config c;
    c.ditio.client_secret = "from-inline";
    c.ditio.client_secret_file = file.string();

    SUBCASE("$DITIO_CLIENT_SECRET first")
    {
        auto env = env_of({{"DITIO_CLIENT_SECRET", "from-env"}, {"CREDENTIALS_DIRECTORY", creds.string()}});
        CHECK(cfg::resolve_client_secret(c, env) == "from-env");
    }
    SUBCASE("then the systemd credential, newline stripped")
    {
        auto env = env_of({{"CREDENTIALS_DIRECTORY", creds.string()}});
        CHECK(cfg::resolve_client_secret(c, env) == "from-credentials");
    }
    SUBCASE("a credentials directory without client_secret is skipped")
    {
        auto env = env_of({{"CREDENTIALS_DIRECTORY", (dir.path() / "empty-creds").string()}});
        CHECK(cfg::resolve_client_secret(c, env) == "from-file");
    }
    SUBCASE("then client_secret_file, newline stripped")
    {
        CHECK(cfg::resolve_client_secret(c, env_of({})) == "from-file");
    }
    SUBCASE("CRLF line ends are stripped too")
    {
        c.ditio.client_secret_file = dir.write("crlf.txt", "from-crlf\r\n").string();
        CHECK(cfg::resolve_client_secret(c, env_of({})) == "from-crlf");
    }
    SUBCASE("then the inline client_secret")
    {
        c.ditio.client_secret_file.clear();
        CHECK(cfg::resolve_client_secret(c, env_of({})) == "from-inline");
    }
    SUBCASE("nothing set is an error")
    {
        c.ditio.client_secret_file.clear();
        c.ditio.client_secret.clear();
        CHECK_THROWS_AS((void)cfg::resolve_client_secret(c, env_of({})), cfg::config_error);
    }
}

TEST_CASE("config: --secret-file comes first; the packaged credential file last, only when given")
{
    temp_dir dir;
    auto flag_file = dir.write("flag.txt", "from-flag\n");
    auto packaged = dir.write("packaged.txt", "from-packaged\n");
    cfg::config c;
    auto env = env_of({{"DITIO_CLIENT_SECRET", "from-env"}});

    SUBCASE("--secret-file - (read before) wins over everything")
    {
        cfg::secret_sources extra{.given = "from-stdin", .file = flag_file, .fallback = packaged};
        CHECK(cfg::resolve_client_secret(c, env, nullptr, extra) == "from-stdin");
    }
    SUBCASE("--secret-file PATH wins over the environment")
    {
        cfg::secret_sources extra{.file = flag_file, .fallback = packaged};
        CHECK(cfg::resolve_client_secret(c, env, nullptr, extra) == "from-flag");
    }
    SUBCASE("a missing --secret-file is an error naming the flag, not a fall-through")
    {
        cfg::secret_sources extra{.file = dir.path() / "nope.txt", .fallback = packaged};
        try {
            (void)cfg::resolve_client_secret(c, env, nullptr, extra);
            FAIL("resolved");
        } catch (const cfg::config_error& e) {
            CHECK(contains(e.what(), "--secret-file: cannot read"));
        }
    }
    SUBCASE("the fallback is read only when nothing else names a secret")
    {
        cfg::secret_sources extra{.fallback = packaged};
        CHECK(cfg::resolve_client_secret(c, env, nullptr, extra) == "from-env");
        CHECK(cfg::resolve_client_secret(c, env_of({}), nullptr, extra) == "from-packaged");
        c.ditio.client_secret = "from-inline";
        CHECK(cfg::resolve_client_secret(c, env_of({}), nullptr, extra) == "from-inline");
    }
    SUBCASE("without a fallback, or when its file is missing, nothing set is an error naming every source")
    {
        for (auto fallback : {fs::path{}, dir.path() / "missing"}) {
            try {
                (void)cfg::resolve_client_secret(c, env_of({}), nullptr, {.fallback = fallback});
                FAIL("resolved");
            } catch (const cfg::config_error& e) {
                CHECK(contains(e.what(), "no client secret configured"));
                CHECK(contains(e.what(), "--secret-file"));
                CHECK(contains(e.what(), "$DITIO_CLIENT_SECRET"));
            }
        }
    }
}

TEST_CASE("config: an unusable secret file is an error naming the source, never the secret")
{
    temp_dir dir;
    cfg::config c;
    // The inline secret must not leak into the message, nor be used as a silent fallback.
    c.ditio.client_secret = "inline-s3cr3t-value";

    auto message = [&](const cfg::env_lookup& env) -> std::string {
        try {
            auto s = cfg::resolve_client_secret(c, env);
            return "resolved to: " + s;
        } catch (const cfg::config_error& e) {
            return e.what();
        }
    };

    SUBCASE("client_secret_file missing")
    {
        c.ditio.client_secret_file = (dir.path() / "missing.txt").string();
        auto msg = message(env_of({}));
        CHECK(contains(msg, "ditio.client_secret_file"));
        CHECK_FALSE(contains(msg, "resolved to"));
        CHECK_FALSE(contains(msg, "inline-s3cr3t-value"));
    }
    SUBCASE("client_secret_file empty")
    {
        c.ditio.client_secret_file = dir.write("empty.txt", "\n").string();
        auto msg = message(env_of({}));
        CHECK(contains(msg, "ditio.client_secret_file"));
        CHECK_FALSE(contains(msg, "resolved to"));
        CHECK_FALSE(contains(msg, "inline-s3cr3t-value"));
    }
    SUBCASE("client_secret_file is a directory")
    {
        c.ditio.client_secret_file = dir.path().string();
        auto msg = message(env_of({}));
        CHECK(contains(msg, "ditio.client_secret_file"));
        CHECK_FALSE(contains(msg, "resolved to"));
    }
    SUBCASE("systemd credential unreadable")
    {
        auto creds = dir.path() / "creds";
        fs::create_directories(creds / "client_secret"); // a directory where the file should be
        c.ditio.client_secret_file = dir.write("secret.txt", "file-s3cr3t\n").string();
        auto msg = message(env_of({{"CREDENTIALS_DIRECTORY", creds.string()}}));
        CHECK(contains(msg, "CREDENTIALS_DIRECTORY"));
        CHECK_FALSE(contains(msg, "resolved to"));
        CHECK_FALSE(contains(msg, "file-s3cr3t"));
        CHECK_FALSE(contains(msg, "inline-s3cr3t-value"));
    }
    SUBCASE("systemd credential empty")
    {
        auto creds = dir.path() / "creds2";
        fs::create_directories(creds);
        std::ofstream(creds / "client_secret", std::ios::binary) << "\n\n";
        auto msg = message(env_of({{"CREDENTIALS_DIRECTORY", creds.string()}}));
        CHECK(contains(msg, "CREDENTIALS_DIRECTORY"));
        CHECK_FALSE(contains(msg, "resolved to"));
    }
}

TEST_CASE("config: [ops] defaults to off, loopback only and a 1h staleness bound")
{
    auto c = cfg::parse("", "test.toml");
    CHECK(c.ops.listen.empty());
    CHECK_FALSE(c.ops.allow_remote);
    CHECK(c.ops.stale_after == 1h);
    CHECK(validate_error(c) == "");
}

TEST_CASE("config: [ops] keys are parsed")
{
    auto c = cfg::parse(
        "[ops]\nlisten = \"0.0.0.0:9100\"\nallow_remote = true\nstale_after = \"3h\"\n", "test.toml"
    );
    CHECK(c.ops.listen == "0.0.0.0:9100");
    CHECK(c.ops.allow_remote);
    CHECK(c.ops.stale_after == 3h);
    CHECK(validate_error(c) == "");
}

TEST_CASE("config: [ops] bad values are errors that name the key")
{
    SUBCASE("allow_remote not a boolean")
    {
        CHECK(
            parse_error("[ops]\nallow_remote = \"yes\"\n") ==
            "test.toml: ops.allow_remote: must be true or false"
        );
    }
    SUBCASE("listen not a string")
    {
        CHECK(parse_error("[ops]\nlisten = 9464\n") == "test.toml: ops.listen: must be a string");
    }
    SUBCASE("stale_after not a duration")
    {
        CHECK(contains(
            parse_error("[ops]\nstale_after = \"1 hour\"\n"),
            "test.toml: ops.stale_after: '1 hour' is not a duration"
        ));
    }
    SUBCASE("unknown key")
    {
        CHECK(
            parse_error("[ops]\nport = 9464\n") ==
            "test.toml: ops.port: unknown key (valid: listen, allow_remote, stale_after)"
        );
    }
}

TEST_CASE("config: validate checks ops.listen and ops.stale_after")
{
    cfg::config c;
    auto listen_error = [&c](std::string listen, bool allow_remote = false) {
        c.ops.listen = std::move(listen);
        c.ops.allow_remote = allow_remote;
        return validate_error(c);
    };

    SUBCASE("loopback addresses are accepted")
    {
        CHECK(listen_error("127.0.0.1:9464") == "");
        CHECK(listen_error("127.3.2.1:1") == "");
        CHECK(listen_error("[::1]:9464") == "");
        CHECK(listen_error("localhost:65535") == "");
        CHECK(listen_error("LocalHost:9464") == "");
    }
    SUBCASE("a non-loopback address needs allow_remote")
    {
        for (const auto* listen : {"0.0.0.0:9464", "192.168.1.10:9464", "[::]:9464", "[2001:db8::1]:9464"}) {
            CAPTURE(listen);
            auto msg = listen_error(listen);
            CHECK(contains(msg, "ops.listen: "));
            CHECK(contains(msg, listen));
            CHECK(contains(msg, "not a loopback address"));
            CHECK(contains(msg, "ops.allow_remote = true"));
            CHECK(listen_error(listen, true) == "");
        }
    }
    SUBCASE("malformed addresses are refused, allow_remote or not")
    {
        for (const auto* listen :
             {"127.0.0.1",
              "9464",
              ":9464",
              "127.0.0.1:",
              "127.0.0.1:0",
              "127.0.0.1:65536",
              "127.0.0.1:http",
              "::1:9464",
              "[::1]",
              "http://127.0.0.1:9464",
              "127.0.0.1:9464/metrics",
              "metrics.example.com:9464",
              "127.0.0.1.example.com:9464"}) {
            CAPTURE(listen);
            for (bool remote : {false, true}) {
                auto msg = listen_error(listen, remote);
                CHECK(contains(msg, "ops.listen: '"));
                CHECK(contains(msg, "is not host:port with an IP address or localhost"));
            }
        }
    }
    SUBCASE("stale_after below one minute")
    {
        c.ops.stale_after = 59s;
        CHECK(validate_error(c) == "ops.stale_after: must be between 1m and 365d");
        c.ops.stale_after = 1min;
        CHECK(validate_error(c) == "");
    }
}

TEST_SUITE_END();

TEST_CASE("config: [push] defaults, keys and bounds")
{
    auto d = cfg::parse("", "test.toml");
    CHECK(d.push.enabled);
    CHECK(d.push.interval == 5min);
    CHECK(d.push.check_every == 2s);

    auto c =
        cfg::parse("[push]\nenabled = false\ninterval = \"30s\"\ncheck_every = \"500ms\"\n", "test.toml");
    CHECK_FALSE(c.push.enabled);
    CHECK(c.push.interval == 30s);
    CHECK(c.push.check_every == 500ms);
    CHECK(validate_error(c) == "");

    CHECK(parse_error("[push]\nenabled = 1\n") == "test.toml: push.enabled: must be true or false");
    CHECK(contains(parse_error("[push]\nbatch = 10\n"), "test.toml: push.batch: unknown key (valid: enabled,")
    );
    c.push.check_every = 10ms;
    CHECK(validate_error(c) == "push.check_every: must be between 100ms and 10m");
    c.push.check_every = 2s;
    c.push.interval = 100ms;
    CHECK(validate_error(c) == "push.interval: must be between 1s and 1d");
}

TEST_CASE("config: every duration key has a range; a value outside it names the key and the range")
{
    REQUIRE(cfg::duration_ranges().size() >= 14);
    for (const auto& r : cfg::duration_ranges()) {
        CAPTURE(r.key);
        auto key = std::string(r.key);
        auto dot = key.rfind('.');
        auto table = key.substr(0, dot);
        auto name = key.substr(dot + 1);
        std::string shown = key;
        if (table == "streams.*") {
            table = "streams.\"time-registrations\"";
            shown = "streams.\"time-registrations\"." + name;
        }
        auto error_for = [&](std::chrono::milliseconds v) {
            std::string toml = "[" + table + "]\n";
            // retry_initial may not exceed retry_max: each is given the other's extreme.
            if (key == "http.retry_initial")
                toml += "retry_max = \"1h\"\n";
            if (key == "http.retry_max")
                toml += "retry_initial = \"1ms\"\n";
            toml += name + " = \"" + fmt_ms(v) + "\"\n";
            return validate_error(cfg::parse(toml, "test.toml"));
        };
        CHECK(error_for(r.min) == "");
        CHECK(error_for(r.max) == "");
        auto above = error_for(r.max + 1ms);
        CHECK(contains(above, shown + ": must be between "));
        if (r.min > 0ms)
            CHECK(contains(error_for(r.min - 1ms), shown + ": must be between "));
    }
}

TEST_CASE("config: durations that used to wrap are refused")
{
    for (const auto* bad : {"99999999999d", "200000d", "25d"}) {
        CAPTURE(bad);
        if (std::string_view(bad) != "25d")
            CHECK(contains(
                validate_error(cfg::parse(std::string("[sync]\ninterval = \"") + bad + "\"\n", "test.toml")),
                "sync.interval: must be between 1s and 30d"
            ));
        CHECK(contains(
            validate_error(cfg::parse(std::string("[storage]\nbusy_timeout = \"") + bad + "\"\n", "test.toml")
            ),
            "storage.busy_timeout: must be between 0ms and 10m"
        ));
    }
}

TEST_CASE("config: a key of 50,000 parts, deep nesting and a huge file are refused before the parser")
{
    std::string dotted = "a";
    for (int i = 0; i < 50'000; ++i)
        dotted += ".a";
    CHECK(contains(parse_error(dotted + " = 1\n"), "a dotted key of more than 16 parts"));
    CHECK(contains(parse_error("[" + dotted + "]\n"), "a dotted key of more than 16 parts"));
    CHECK(contains(parse_error("x = {" + dotted + " = 1}\n"), "a dotted key of more than 16 parts"));
    CHECK(contains(
        parse_error("x = " + std::string(50'000, '[') + std::string(50'000, ']') + "\n"),
        "nested deeper than 16 levels"
    ));
    std::string inline_tables = "x = ";
    for (int i = 0; i < 1000; ++i)
        inline_tables += "{a = ";
    inline_tables += "1" + std::string(1000, '}') + "\n";
    CHECK(contains(parse_error(inline_tables), "nested deeper than 16 levels"));
    CHECK(contains(parse_error("# comment\n" + std::string(2u << 20, ' ')), "holds at most"));

    // Dots in strings, comments and values are no key parts.
    CHECK(
        parse_error("# a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s\n[ditio]\nidentity_base = "
                    "\"https://a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.example\"\n"
                    "scope = '''x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p'''\n") == ""
    );
    CHECK(contains(
        parse_error("[sync]\nx = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, "
                    "14.5, 15.5, 16.5, 17.5]\n"),
        "sync.x: unknown key"
    ));
    CHECK(contains(parse_error("[streams.\"time-registrations\"]\ninterval = \"1h\"\nfoo.bar = 1\n"), "foo"));

    temp_dir dir;
    auto big = dir.write("big.toml", "# big\n" + std::string(3u << 20, '#'));
    try {
        (void)cfg::load(big, true, env_of({}));
        FAIL("a 3 MiB file was accepted");
    } catch (const cfg::config_error& e) {
        CHECK(contains(e.what(), "holds at most"));
    }
}

TEST_CASE("config: a secret file must be a small regular file, and one others may read is warned about")
{
    temp_dir dir;
    cfg::config c;
    auto resolve = [&](std::vector<std::string>* warnings = nullptr) -> std::string {
        try {
            return "ok: " + cfg::resolve_client_secret(c, env_of({}), warnings);
        } catch (const cfg::config_error& e) {
            return e.what();
        }
    };
    SUBCASE("/dev/zero is not a regular file, and is not read")
    {
        c.ditio.client_secret_file = "/dev/zero";
        CHECK(contains(resolve(), "ditio.client_secret_file: the file it names is not a regular file"));
    }
    SUBCASE("a FIFO is refused without waiting for a writer")
    {
        auto fifo = dir.path() / "fifo";
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        c.ditio.client_secret_file = fifo.string();
        CHECK(contains(resolve(), "not a regular file"));
    }
    SUBCASE("more than 4096 bytes is not a secret")
    {
        c.ditio.client_secret_file = dir.write("big", std::string(5000, 'x')).string();
        CHECK(contains(resolve(), "at most 4096 bytes"));
        c.ditio.client_secret_file = dir.write("fits", std::string(4096, 'x')).string();
        CHECK(resolve() == "ok: " + std::string(4096, 'x'));
    }
    SUBCASE("readable by others or the group: taken, with a warning; by the owner only: silent")
    {
        auto file = dir.write("secret", "from-file\n");
        c.ditio.client_secret_file = file.string();
        std::vector<std::string> warnings;
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
        CHECK(resolve(&warnings) == "ok: from-file");
        REQUIRE(warnings.size() == 1);
        CHECK(contains(warnings[0], "readable by every user of this machine (mode 0604)"));
        CHECK_FALSE(contains(warnings[0], "from-file"));
        warnings.clear();
        fs::permissions(file, fs::perms::owner_read | fs::perms::group_read);
        CHECK(resolve(&warnings) == "ok: from-file");
        REQUIRE(warnings.size() == 1);
        CHECK(contains(warnings[0], "readable by its group"));
        warnings.clear();
        fs::permissions(file, fs::perms::owner_read);
        CHECK(resolve(&warnings) == "ok: from-file");
        CHECK(warnings.empty());
    }
}

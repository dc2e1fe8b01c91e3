// The fake Ditio server against ditio-api.md: token endpoint, auth, both sync modes, paging rules and faults.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <support/fake_ditio.hpp>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace ditio_sync::testing;
using namespace std::chrono_literals;

constexpr std::string_view data_path = "/reporting/v1/time-registrations";

// One PKI per test process, removed at exit.
const test_pki& pki()
{
    struct holder {
        std::filesystem::path dir =
            std::filesystem::temp_directory_path() / fmt::format("ditio-fake-test-{}", ::getpid());
        test_pki pki = make_test_pki(dir);
        ~holder()
        {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    };
    static holder h;
    return h.pki;
}

fake_options tls_options()
{
    fake_options o;
    o.cert_file = pki().server_cert;
    o.key_file = pki().server_key;
    return o;
}

struct reply {
    int status = 0; // 0: no HTTP answer (see error)
    beast::error_code error;
    http::response<http::string_body> raw;
    std::string header(http::field f) const { return std::string(raw[f]); }
    json::value json() const { return json::parse(raw.body()); }
};

// A blocking client that trusts the test CA; keeps its connection while the server allows keep-alive.
class test_client {
public:
    explicit test_client(std::uint16_t port, bool tls = true) : port_(port)
    {
        if (tls) {
            ctx_.emplace(ssl::context::tls_client);
            ctx_->load_verify_file(pki().ca_cert.string());
            ctx_->set_verify_mode(ssl::verify_peer);
        }
    }

    reply send(http::request<http::string_body> req)
    {
        req.version(11);
        req.set(http::field::host, fmt::format("127.0.0.1:{}", port_));
        req.prepare_payload();
        reply out;
        try {
            connect();
            if (tls_)
                out = exchange(*tls_, req);
            else
                out = exchange(*plain_, req);
        } catch (const boost::system::system_error& e) {
            out.error = e.code();
        }
        if (out.status == 0 || !out.raw.keep_alive())
            close();
        return out;
    }

    reply get(std::string_view target, std::string_view token = {})
    {
        http::request<http::string_body> req{http::verb::get, target, 11};
        if (!token.empty())
            req.set(http::field::authorization, fmt::format("Bearer {}", token));
        return send(std::move(req));
    }

    reply post_form(std::string_view target, std::string body, std::string_view basic = {})
    {
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::content_type, "application/x-www-form-urlencoded");
        if (!basic.empty())
            req.set(http::field::authorization, fmt::format("Basic {}", basic));
        req.body() = std::move(body);
        return send(std::move(req));
    }

    std::string token(std::string_view scope = "reportingapiv1")
    {
        auto r = post_form(
            "/connect/token",
            fmt::format(
                "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope={}",
                scope
            )
        );
        REQUIRE(r.status == 200);
        return std::string(r.json().at("access_token").as_string());
    }

    void close()
    {
        tls_.reset();
        plain_.reset();
    }

private:
    void connect()
    {
        if (tls_ || plain_)
            return;
        tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), port_};
        if (ctx_) {
            tls_.emplace(ioc_, *ctx_);
            tls_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
            beast::get_lowest_layer(*tls_).expires_after(10s);
            beast::get_lowest_layer(*tls_).connect(endpoint);
            tls_->handshake(ssl::stream_base::client);
        } else {
            plain_.emplace(ioc_);
            plain_->expires_after(10s);
            plain_->connect(endpoint);
        }
    }

    template <class Stream> static reply exchange(Stream& stream, http::request<http::string_body>& req)
    {
        reply out;
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(256 << 20);
        http::read(stream, buffer, parser, out.error);
        if (!out.error) {
            out.raw = parser.release();
            out.status = out.raw.result_int();
        }
        return out;
    }

    std::uint16_t port_;
    asio::io_context ioc_;
    std::optional<ssl::context> ctx_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
    std::optional<beast::tcp_stream> plain_;
};

// A started server and a client for it.
struct running {
    fake_ditio server;
    test_client client;
    explicit running(fake_options o = tls_options()) : server(o), client(started(server), o.tls) {}

private:
    static std::uint16_t started(fake_ditio& s)
    {
        s.start();
        return s.port();
    }
};

fault make_fault(fault::kind what, std::string path_suffix = {})
{
    fault f;
    f.what = what;
    f.path_suffix = std::move(path_suffix);
    return f;
}

std::string str(const json::value& v)
{
    return std::string(v.as_string());
}

// Follows continuation tokens from `query` (no token); returns every page's JSON.
std::vector<json::object> pages(test_client& client, const std::string& token, const std::string& query)
{
    std::vector<json::object> out;
    std::string next;
    for (int guard = 0; guard < 10000; ++guard) {
        auto target =
            fmt::format("{}?{}{}", data_path, query, next.empty() ? "" : "&ContinuationToken=" + next);
        auto r = client.get(target, token);
        INFO(target, " -> ", r.raw.body());
        REQUIRE(r.status == 200);
        auto page = r.json().as_object();
        CHECK(
            page.at("recordCount").as_int64() == static_cast<std::int64_t>(page.at("data").as_array().size())
        );
        out.push_back(page);
        auto* t = page.if_contains("continuationToken");
        if (!t)
            return out;
        next = str(*t);
        CHECK(next.rfind("eyJ", 0) == 0);
        CHECK(str(page.at("links").at("next")).rfind("/v1/time-registrations?", 0) == 0);
    }
    FAIL("no end of stream");
    return out;
}

std::vector<json::object> records_of(const std::vector<json::object>& ps)
{
    std::vector<json::object> out;
    for (const auto& p : ps)
        for (const auto& r : p.at("data").as_array())
            out.push_back(r.as_object());
    return out;
}

} // namespace

TEST_SUITE_BEGIN("fake_ditio");

TEST_CASE("fake_ditio: token endpoint grants, and rejects a bad client, scope or grant")
{
    running f;
    auto ok = f.client.post_form(
        "/connect/token",
        "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=reportingapiv1"
    );
    REQUIRE(ok.status == 200);
    CHECK(ok.header(http::field::content_type).rfind("application/json", 0) == 0);
    CHECK(!ok.header(http::field::date).empty());
    auto body = ok.json();
    CHECK(str(body.at("access_token")).size() == 43);
    CHECK(body.at("expires_in").as_int64() == 1800);
    CHECK(str(body.at("token_type")) == "Bearer");
    CHECK(str(body.at("scope")) == "reportingapiv1");

    // HTTP Basic credentials ("demo-client:demo-secret") and a '+'-encoded scope list.
    auto basic = f.client.post_form(
        "/identity/connect/token",
        "grant_type=client_credentials&scope=reportingapiv1+ditioapiv3",
        "ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="
    );
    REQUIRE(basic.status == 200);
    CHECK(str(basic.json().at("scope")) == "reportingapiv1 ditioapiv3");

    auto bad_secret = f.client.post_form(
        "/connect/token", "grant_type=client_credentials&client_id=demo-client&client_secret=x"
    );
    CHECK(bad_secret.status == 400);
    CHECK(str(bad_secret.json().at("error")) == "invalid_client");

    auto bad_scope = f.client.post_form(
        "/connect/token",
        "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope="
        "masstransportapiv1"
    );
    CHECK(bad_scope.status == 400);
    CHECK(str(bad_scope.json().at("error")) == "invalid_scope");

    auto bad_grant = f.client.post_form(
        "/connect/token", "grant_type=password&client_id=demo-client&client_secret=demo-secret"
    );
    CHECK(bad_grant.status == 400);
    CHECK(str(bad_grant.json().at("error")) == "unsupported_grant_type");

    CHECK(f.server.issued_tokens().size() == 2);
    CHECK(f.server.stats().tokens_issued == 2);
    CHECK(f.server.stats().token_requests == 5);
}

TEST_CASE("fake_ditio: the API answers 401 without a valid token, and 401 or 403 for a wrong scope")
{
    running f;
    f.server.seed(10, 1);
    auto none = f.client.get(data_path);
    CHECK(none.status == 401);
    CHECK(none.header(http::field::www_authenticate).rfind("Bearer", 0) == 0);
    CHECK(str(none.json().at("error")) == "Unauthorized");
    CHECK(f.client.get(data_path, "not-a-token").status == 401);

    auto token = f.client.token();
    CHECK(f.client.get(data_path, token).status == 200);
    f.server.expire_all_tokens();
    CHECK(f.client.get(data_path, token).status == 401);

    f.server.set_client_revoked(true);
    auto fresh = f.client.token();
    CHECK(f.client.get(data_path, fresh).status == 401);
    f.server.set_client_revoked(false);
    CHECK(f.client.get(data_path, fresh).status == 200);

    // Expiry follows the server clock.
    f.server.set_clock_offset(31min);
    CHECK(f.client.get(data_path, fresh).status == 401);
    f.server.set_clock_offset(0ms);

    auto core_only = f.client.token("ditioapiv3");
    CHECK(f.client.get(data_path, core_only).status == 401);
    f.server.set_wrong_scope_status(403);
    CHECK(f.client.get(data_path, core_only).status == 403);

    CHECK(f.client.get("/reporting/v1/nothing-here", token).status == 404);
    CHECK(f.server.stats().unauthorized == 6);
}

TEST_CASE("fake_ditio: full mode returns exactly the live records of the window, ordered, across pages")
{
    running f;
    auto ids = f.server.seed(1000, 7, "2024-01-01", "2024-12-31");
    f.server.remove(f.server.pick_live(20, 1));
    f.server.move_work_date({ids[0]}, "2024-06-30"); // ToDateTime is inclusive
    f.server.move_work_date({ids[1]}, "2024-07-01");
    auto token = f.client.token();

    auto ps =
        pages(f.client, token, "FromDateTime=2024-03-01&ToDateTime=2024-06-30T00:00:00Z&ChunkLimit=100");
    auto got = records_of(ps);

    std::vector<std::pair<std::string, std::string>> expected;
    auto snap = f.server.snapshot();
    for (const auto& [id, v] : snap)
        if (!v.deleted && v.work_date >= "2024-03-01" && v.work_date <= "2024-06-30T00:00:00Z")
            expected.emplace_back(v.work_date, id);
    std::sort(expected.begin(), expected.end());
    REQUIRE(got.size() == expected.size());
    CHECK(expected.size() > 250);
    std::set<std::string> seen;
    for (std::size_t i = 0; i < got.size(); ++i) {
        auto id = str(got[i].at("id"));
        CHECK(id == expected[i].second);
        CHECK(seen.insert(id).second);
        CHECK(got[i].at("isDeleted").as_bool() == false);
        CHECK(json::value(got[i]) == json::parse(snap.at(id).json));
    }
    CHECK(seen.count(ids[0]) == 1);
    CHECK(seen.count(ids[1]) == 0);
    for (std::size_t i = 0; i + 1 < ps.size(); ++i) {
        CHECK(ps[i].at("data").as_array().size() == 100);
        CHECK(str(ps[i].at("syncTypeName")) == "full");
        CHECK(ps[i].at("deletedRecordCount").as_int64() == 0);
        CHECK(str(ps[i].at("links").at("next")).find("ChunkLimit=100") != std::string::npos);
    }
    CHECK(ps.back().at("links").as_object().empty());
}

TEST_CASE(
    "fake_ditio: incremental mode includes edits and tombstones, ModifiedSince inclusive, ModifiedBefore not"
)
{
    running f;
    f.server.seed(200, 3);
    auto token = f.client.token();
    auto all = records_of(pages(f.client, token, "ModifiedSince=2000-01-01&ChunkLimit=50"));
    REQUIRE(all.size() == 200);
    for (std::size_t i = 0; i + 1 < all.size(); ++i) {
        auto a = std::pair{str(all[i].at("modifiedDateTime")), str(all[i].at("id"))};
        auto b = std::pair{str(all[i + 1].at("modifiedDateTime")), str(all[i + 1].at("id"))};
        CHECK(a < b);
    }

    auto edited = f.server.pick_live(3, 5);
    f.server.edit(edited);
    auto deleted = f.server.pick_live(2, 6);
    f.server.remove(deleted);
    auto snap = f.server.snapshot();
    auto edit_time = snap.at(edited[0]).modified;
    auto delete_time = snap.at(deleted[0]).deleted_at;
    CHECK(edit_time < delete_time);

    auto ps = pages(f.client, token, "modifiedSince=" + edit_time);
    REQUIRE(ps.size() == 1);
    CHECK(str(ps[0].at("syncTypeName")) == "incremental");
    CHECK(ps[0].at("recordCount").as_int64() == 5);
    CHECK(ps[0].at("deletedRecordCount").as_int64() == 2);
    auto got = records_of(ps);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(str(got[i].at("modifiedDateTime")) == edit_time);
        CHECK(got[i].at("isDeleted").as_bool() == false);
    }
    for (std::size_t i = 3; i < 5; ++i) {
        const auto& t = got[i];
        CHECK(t.at("isDeleted").as_bool() == true);
        CHECK(str(t.at("deletedDateTime")) == delete_time);
        CHECK(str(t.at("modifiedDateTime")) == delete_time);
        CHECK(t.size() == got[0].size()); // every field present
        std::size_t nulls = 0;
        for (const auto& kv : t)
            nulls += kv.value().is_null() ? 1 : 0;
        CHECK(nulls == t.size() - 4);
        CHECK(json::value(t) == json::parse(snap.at(str(t.at("id"))).json));
    }

    auto before =
        records_of(pages(f.client, token, "ModifiedSince=" + edit_time + "&ModifiedBefore=" + delete_time));
    CHECK(before.size() == 3);

    auto lone = f.client.get(std::string(data_path) + "?ModifiedBefore=2026-01-01", token);
    CHECK(lone.status == 400);
    CHECK(str(lone.json().at("error")) == "ArgumentIsNull");
    auto backwards =
        f.client.get(std::string(data_path) + "?ModifiedSince=2026-01-02&ModifiedBefore=2026-01-01", token);
    CHECK(backwards.status == 400);

    // Full mode never carries tombstones; purged records vanish from both modes.
    auto full = records_of(pages(f.client, token, "ChunkLimit=10000"));
    CHECK(full.size() == 198);
    f.server.purge({deleted[0], edited[0]});
    CHECK(records_of(pages(f.client, token, "ModifiedSince=" + edit_time)).size() == 3);
    CHECK(f.server.live_count() == 197);
}

TEST_CASE("fake_ditio: incremental pages never split a timestamp")
{
    running f;
    f.server.seed(300, 5);
    auto inserted = f.server.insert(50);
    auto token = f.client.token();
    auto at = f.server.snapshot().at(inserted[0]).modified;

    auto one = pages(f.client, token, "ModifiedSince=" + at + "&ChunkLimit=10");
    REQUIRE(one.size() == 1);
    CHECK(one[0].at("data").as_array().size() == 50);

    auto ps = pages(f.client, token, "ModifiedSince=2000-01-01T00:00:00Z&ChunkLimit=7");
    std::set<std::string> seen;
    std::string last_time;
    for (const auto& p : ps) {
        const auto& data = p.at("data").as_array();
        REQUIRE(!data.empty());
        CHECK(str(data.front().at("modifiedDateTime")) > last_time);
        last_time = str(data.back().at("modifiedDateTime"));
        for (const auto& r : data)
            CHECK(seen.insert(str(r.at("id"))).second);
    }
    CHECK(seen.size() == 350);
}

TEST_CASE("fake_ditio: a continuation token is only valid with the parameters it was issued for")
{
    running f;
    f.server.seed(300, 9);
    auto token = f.client.token();
    auto get = [&](const std::string& query) {
        return f.client.get(fmt::format("{}?{}", data_path, query), token);
    };
    auto rejected = [&](const std::string& query) {
        auto r = get(query);
        return r.status == 400 && str(r.json().at("error")) == "InvalidContinuationToken";
    };

    auto full = str(get("ChunkLimit=100").json().at("continuationToken"));
    CHECK(get("ChunkLimit=100&ContinuationToken=" + full).status == 200);
    CHECK(get("chunklimit=100&continuationToken=" + full).status == 200); // names are case-insensitive
    CHECK(rejected("ChunkLimit=50&ContinuationToken=" + full));
    CHECK(rejected("ChunkLimit=100&FromDateTime=2024-01-01&ContinuationToken=" + full));
    CHECK(rejected("ChunkLimit=100&ModifiedSince=2000-01-01&ContinuationToken=" + full));

    auto inc = str(get("ModifiedSince=2000-01-01&ChunkLimit=100").json().at("continuationToken"));
    CHECK(get("ModifiedSince=2000-01-01&ChunkLimit=100&ContinuationToken=" + inc).status == 200);
    CHECK(rejected("ModifiedSince=2000-01-02&ChunkLimit=100&ContinuationToken=" + inc));
    CHECK(rejected("ChunkLimit=100&ContinuationToken=" + inc));
    CHECK(rejected("ChunkLimit=100&ContinuationToken=eyJub3QiOiJhIHRva2VuIn0"));
    CHECK(rejected("ChunkLimit=100&ContinuationToken=!!!garbage"));
}

TEST_CASE("fake_ditio: ChunkLimit defaults to 2500 and is clamped to 1..10000")
{
    running f;
    f.server.seed(10100, 11);
    auto token = f.client.token();
    auto count = [&](const std::string& query) {
        auto r = f.client.get(fmt::format("{}?{}", data_path, query), token);
        REQUIRE(r.status == 200);
        return r.json().at("data").as_array().size();
    };
    CHECK(count("FromDateTime=2024-01-01") == 2500);
    CHECK(count("ChunkLimit=0") == 1);
    CHECK(count("ChunkLimit=-5") == 1);
    CHECK(count("ChunkLimit=20000") == 10000);

    // Incremental: at most 10000 plus the rest of the last timestamp's run.
    auto r = f.client.get(fmt::format("{}?ModifiedSince=2000-01-01&ChunkLimit=20000", data_path), token);
    auto page = r.json();
    const auto& data = page.at("data").as_array();
    REQUIRE(data.size() >= 10000);
    for (std::size_t i = 10000; i < data.size(); ++i)
        CHECK(data[i].at("modifiedDateTime") == data[9999].at("modifiedDateTime"));

    auto bad = f.client.get(fmt::format("{}?ChunkLimit=many", data_path), token);
    CHECK(bad.status == 400);
    CHECK(str(bad.json().at("error")) == "InvalidArgument");
    CHECK(f.client.get(fmt::format("{}?FromDateTime=yesterday", data_path), token).status == 400);
}

TEST_CASE("fake_ditio: records carry every documented field, Norwegian text and unique ObjectIds")
{
    running f;
    f.server.seed(400, 13);
    auto snap = f.server.snapshot();
    std::size_t bytes = 0, other_company = 0, non_ascii = 0;
    std::set<std::size_t> sizes;
    for (const auto& [id, v] : snap) {
        CHECK(id.size() == 24);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        auto r = json::parse(v.json).as_object();
        CHECK(r.size() == 59);
        CHECK(str(r.at("id")) == id);
        CHECK(str(r.at("workDate")).ends_with("T00:00:00Z"));
        CHECK(str(r.at("modifiedDateTime")).size() == 24); // 2026-10-01T06:02:11.123Z
        CHECK(str(r.at("createdDateTime")) <= str(r.at("modifiedDateTime")));
        CHECK(r.at("qty").is_number());
        CHECK(r.at("approved").is_bool());
        CHECK(r.at("approved").as_bool() == !r.at("approvedDateTime").is_null());
        bytes += v.json.size();
        other_company += str(r.at("projectCompanyId")) != "5f0c3a9e1d2b4c6a8e0f1a2b" ? 1 : 0;
        non_ascii += v.json.find("ø") != std::string::npos ? 1 : 0;
    }
    CHECK(snap.size() == 400);
    CHECK(bytes / snap.size() >= 1500);
    CHECK(bytes / snap.size() <= 2500);
    CHECK(other_company > 0);
    CHECK(other_company < 60);
    CHECK(non_ascii > 200);

    // CompanyId filters on projectCompanyId.
    auto token = f.client.token();
    auto own = records_of(pages(f.client, token, "CompanyId=5f0c3a9e1d2b4c6a8e0f1a2b&ChunkLimit=10000"));
    CHECK(own.size() == 400 - other_company);
}

TEST_CASE("fake_ditio: mutations stamp one strictly increasing time per batch")
{
    running f;
    auto a = f.server.insert(3);
    auto b = f.server.insert(2);
    f.server.edit({a[0], "000000000000000000000000"});
    auto snap = f.server.snapshot();
    CHECK(snap.at(a[0]).modified > snap.at(b[0]).modified);
    CHECK(snap.at(a[1]).modified == snap.at(a[2]).modified);
    CHECK(snap.at(b[0]).modified > snap.at(a[1]).modified);
    CHECK(snap.at(b[0]).modified == snap.at(b[1]).modified);
    f.server.remove({b[0]});
    f.server.edit({b[0]}); // deleted: ignored
    CHECK(f.server.snapshot().at(b[0]).deleted);
    CHECK(f.server.live_count() == 4);
}

TEST_CASE("fake_ditio: injected faults")
{
    running f;
    f.server.seed(50, 2);
    auto token = f.client.token();
    auto target = std::string(data_path) + "?ChunkLimit=10";

    auto limit = make_fault(fault::kind::status, "/v1/time-registrations");
    limit.status = 429;
    limit.retry_after = "2";
    f.server.inject(limit);
    auto limited = f.client.get(target, token);
    CHECK(limited.status == 429);
    CHECK(limited.header(http::field::retry_after) == "2");
    CHECK(f.client.get(target, token).status == 200);

    f.server.inject(make_fault(fault::kind::reset));
    auto reset = f.client.get(target, token);
    CHECK(reset.status == 0);
    CHECK(reset.error);
    CHECK(f.client.get(target, token).status == 200);

    f.server.inject(make_fault(fault::kind::truncate, "/v1/time-registrations"));
    CHECK(f.client.get(target, token).status == 0);

    f.server.inject(make_fault(fault::kind::html_200));
    auto html = f.client.get(target, token);
    CHECK(html.status == 200);
    CHECK(html.header(http::field::content_type).rfind("text/html", 0) == 0);

    auto slow = make_fault(fault::kind::delay);
    slow.delay = 150ms;
    f.server.inject(slow);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(f.client.get(target, token).status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= 150ms);

    // Only a request that carries a token consumes reject_continuation.
    f.server.inject(make_fault(fault::kind::reject_continuation));
    auto first = f.client.get(target, token);
    REQUIRE(first.status == 200);
    auto next = str(first.json().at("continuationToken"));
    auto rejected = f.client.get(target + "&ContinuationToken=" + next, token);
    CHECK(rejected.status == 400);
    CHECK(str(rejected.json().at("error")) == "InvalidContinuationToken");
    CHECK(f.client.get(target + "&ContinuationToken=" + next, token).status == 200);

    auto log = f.server.requests();
    REQUIRE(log.size() >= 10);
    CHECK(log[1].status == 429);
    CHECK(log[1].query.at("chunklimit") == "10");
    CHECK(log[3].status == 0);
    CHECK(log.back().continuation_token.rfind("eyJ", 0) == 0);
    CHECK(log.back().records == 10);
}

TEST_CASE("fake_ditio: a held request waits for release while others are served")
{
    running f;
    f.server.seed(20, 4);
    auto token = f.client.token();
    f.server.hold_request(1);
    std::atomic<int> held_status{-1};
    std::thread held([&] {
        test_client other(f.server.port());
        held_status = other.get(data_path, token).status;
    });
    CHECK(f.server.wait_until_held(5s));
    CHECK(f.client.get(data_path, token).status == 200);
    std::this_thread::sleep_for(20ms);
    CHECK(held_status == -1);
    f.server.release();
    held.join();
    CHECK(held_status == 200);
    CHECK_FALSE(f.server.wait_until_held(1ms));
}

TEST_CASE("fake_ditio: keep-alive, Connection: close and the per-connection request limit")
{
    running f;
    auto token = f.client.token();
    CHECK(f.client.get(data_path, token).status == 200);
    CHECK(f.client.get(data_path, token).status == 200);
    CHECK(f.server.stats().connections_accepted == 1);

    f.server.set_max_requests_per_connection(2);
    f.client.close();
    CHECK(f.client.get(data_path, token).raw.keep_alive());
    auto second = f.client.get(data_path, token);
    CHECK_FALSE(second.raw.keep_alive());
    CHECK(f.client.get(data_path, token).status == 200);
    CHECK(f.server.stats().connections_accepted == 3);

    http::request<http::string_body> req{http::verb::get, data_path, 11};
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::connection, "close");
    CHECK_FALSE(f.client.send(req).raw.keep_alive());
}

TEST_CASE("fake_ditio: survives broken clients and stops with connections open")
{
    running f;
    asio::io_context ioc;
    tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), f.server.port()};
    {
        tcp::socket garbage{ioc}; // not TLS at all
        garbage.connect(endpoint);
        asio::write(garbage, asio::buffer(std::string_view("GET / HTTP/1.1\r\n\r\n")));
    }
    tcp::socket idle{ioc}; // connected, never says anything
    idle.connect(endpoint);
    CHECK(f.client.get(data_path, f.client.token()).status == 200);

    auto t0 = std::chrono::steady_clock::now();
    f.server.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    f.server.stop(); // idempotent
}

TEST_CASE("fake_ditio: plain HTTP and the control endpoint")
{
    fake_options o;
    o.tls = false;
    o.control_endpoint = true;
    o.end_of_stream_style = 1;
    running f(o);
    CHECK(f.server.base_url().rfind("http://127.0.0.1:", 0) == 0);
    f.server.seed(100, 8);
    auto mutate = f.client.send({http::verb::post, "/_fake/mutate?insert=5&edit=3&delete=2&seed=9", 11});
    REQUIRE(mutate.status == 200);
    auto m = mutate.json();
    CHECK(m.at("inserted").as_int64() == 5);
    CHECK(m.at("edited").as_int64() == 3);
    CHECK(m.at("deleted").as_int64() == 2);
    CHECK(m.at("live").as_int64() == 103);
    CHECK(f.client.get("/_fake/stats").status == 200);

    auto last = f.client.get(data_path, f.client.token()).json().as_object();
    CHECK(last.at("continuationToken").is_null());
}

TEST_SUITE_END();

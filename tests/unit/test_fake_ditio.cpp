// The fake Ditio server against ditio-api.md: token endpoint, auth, both sync modes, paging rules, faults,
// and every stream's quirks, tombstone shapes and joins.
#include <ditio_sync/util/time.hpp>

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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
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
    return process_test_pki();
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

std::string stream_path(std::string_view stream)
{
    return fmt::format("/reporting/v1/{}", stream);
}

// Follows continuation tokens from `query` (no token); returns every page's JSON.
std::vector<json::object> pages(
    test_client& client,
    const std::string& token,
    const std::string& query,
    std::string_view stream = "time-registrations"
)
{
    std::vector<json::object> out;
    std::string next;
    for (int guard = 0; guard < 10000; ++guard) {
        auto target = fmt::format(
            "{}?{}{}", stream_path(stream), query, next.empty() ? "" : "&ContinuationToken=" + next
        );
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
        CHECK(str(page.at("links").at("next")).rfind(fmt::format("/v1/{}?", stream), 0) == 0);
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

namespace {

// Parameters under which a stream serves every live record it has.
std::string everything(std::string_view stream)
{
    if (stream == "payroll-lines-extended")
        return "ExportFilter=All&UserPayrollTypeFilter=AllUsers&";
    if (stream == "crew-list-registrations")
        return "IncludeOpen=true&";
    return "";
}

// A window wider than any seeded date (machine registrations need both ends).
constexpr std::string_view any_time = "FromDateTime=2000-01-01&ToDateTime=2100-01-01T00:00:00Z&";

std::set<std::string> ids_of(const std::vector<json::object>& records)
{
    std::set<std::string> out;
    for (const auto& r : records)
        out.insert(str(r.at("id")));
    return out;
}

std::set<std::string> live_ids(const std::map<std::string, record_view>& snap)
{
    std::set<std::string> out;
    for (const auto& [id, v] : snap)
        if (!v.deleted)
            out.insert(id);
    return out;
}

// Every live record of a stream over HTTP, in full mode.
std::vector<json::object>
all_live(test_client& client, const std::string& token, std::string_view stream, std::string_view extra = {})
{
    return records_of(pages(
        client, token, fmt::format("{}{}{}ChunkLimit=10000", any_time, everything(stream), extra), stream
    ));
}

std::int64_t status_of(test_client& client, const std::string& token, const std::string& target)
{
    return client.get(target, token).status;
}

} // namespace

TEST_CASE("fake_ditio: every stream serves full and incremental pages with the documented envelope")
{
    running f;
    f.server.seed(300, 21);
    f.server.seed_streams(300, 21);
    auto token = f.client.token();
    auto names = fake_ditio::stream_names();
    REQUIRE(names.size() == 18);
    CHECK(names.front() == "time-registrations");

    for (const auto& name : names) {
        INFO("stream ", name);
        auto snap = f.server.snapshot(name);
        auto live = live_ids(snap);
        CHECK(live.size() == f.server.live_count(name));
        CHECK(live.size() >= 8);

        // Full mode: every live record exactly once, in (window field, id) or id order, as the snapshot has
        // it.
        auto ps = pages(f.client, token, fmt::format("{}{}ChunkLimit=7", any_time, everything(name)), name);
        CHECK(ps.size() >= 2);
        auto got = records_of(ps);
        CHECK(got.size() == live.size());
        CHECK(ids_of(got) == live);
        std::string previous_key;
        for (const auto& r : got) {
            auto id = str(r.at("id"));
            CHECK(id.size() == 24);
            CHECK(r.at("isDeleted").as_bool() == false);
            CHECK(json::value(r) == json::parse(snap.at(id).json));
            const auto& window = snap.at(id).window_at;
            auto key = window.empty() ? id : ditio_sync::util::change_key(window) + id;
            CHECK(key > previous_key);
            previous_key = key;
        }
        for (std::size_t i = 0; i < ps.size(); ++i) {
            CHECK(str(ps[i].at("syncTypeName")) == "full");
            CHECK(ps[i].at("deletedRecordCount").as_int64() == 0);
            CHECK(ps[i].at("links").as_object().empty() == (i + 1 == ps.size()));
        }

        // Incremental: exactly the changes since an instant, ordered by change time, tombstones included.
        auto picked = f.server.pick_live(name, 5, 1);
        std::vector<std::string> edited(picked.begin(), picked.begin() + 3),
            removed(picked.begin() + 3, picked.end());
        f.server.edit(name, edited);
        f.server.remove(name, removed);
        auto inserted = f.server.insert(name, 2);
        REQUIRE(inserted.size() == 2);
        auto after = f.server.snapshot(name);
        auto since = after.at(edited[0]).modified;
        CHECK(after.at(edited[1]).modified == since);
        CHECK(after.at(removed[0]).deleted);
        CHECK(after.at(removed[0]).deleted_at > since);
        CHECK(f.server.live_count(name) == live.size() + 2 - 2);

        auto inc = pages(
            f.client, token, fmt::format("{}ModifiedSince={}&ChunkLimit=2", everything(name), since), name
        );
        auto changes = records_of(inc);
        std::set<std::string> expected{edited.begin(), edited.end()};
        expected.insert(removed.begin(), removed.end());
        expected.insert(inserted.begin(), inserted.end());
        CHECK(ids_of(changes) == expected);
        CHECK(changes.size() == 7);
        REQUIRE(inc.size() == 3);
        CHECK(inc[0].at("data").as_array().size() == 3); // the edit batch is not split at ChunkLimit=2
        std::int64_t deleted = 0;
        for (const auto& p : inc) {
            CHECK(str(p.at("syncTypeName")) == "incremental");
            deleted += p.at("deletedRecordCount").as_int64();
        }
        CHECK(deleted == 2);
        for (const auto& r : changes) {
            auto id = str(r.at("id"));
            CHECK(r.at("isDeleted").as_bool() == (id == removed[0] || id == removed[1]));
            CHECK(json::value(r) == json::parse(after.at(id).json));
        }
        auto full_after = all_live(f.client, token, name);
        CHECK(full_after.size() == live.size());
        CHECK(ids_of(full_after).count(removed[0]) == 0);
    }
}

TEST_CASE("fake_ditio: tombstones take the shape of their kind of stream")
{
    running f;
    f.server.seed(50, 3);
    f.server.seed_streams(60, 3);
    auto token = f.client.token();
    enum class shape { empty, last_version, full_record };
    const std::vector<std::pair<std::string, shape>> cases{
        {"time-registrations", shape::empty},
        {"machine-registrations", shape::empty},
        {"absence-registrations", shape::empty},
        {"incident-registrations", shape::empty},
        {"crew-list-registrations", shape::empty},
        {"project", shape::last_version},
        {"project/work-breakdown-structure", shape::last_version},
        {"user", shape::last_version},
        {"resource", shape::last_version},
        {"flow-mass-types", shape::last_version},
        {"checklist-registrations", shape::full_record},
        {"machine-checklist-registrations", shape::full_record},
    };
    for (const auto& one : cases) {
        const auto& name = one.first; // not a structured binding: clang 14 cannot capture those in INFO
        auto kind = one.second;
        INFO("stream ", name);
        auto id = f.server.pick_live(name, 1, 9).at(0);
        auto before = json::parse(f.server.snapshot(name).at(id).json).as_object();
        f.server.remove(name, {id});
        auto view = f.server.snapshot(name).at(id);
        REQUIRE(view.deleted);

        auto ps = pages(
            f.client, token, fmt::format("{}ModifiedSince={}", everything(name), view.deleted_at), name
        );
        REQUIRE(ps.size() == 1);
        CHECK(ps[0].at("deletedRecordCount").as_int64() == 1);
        auto got = records_of(ps);
        REQUIRE(got.size() == 1);
        const auto& t = got[0];
        CHECK(str(t.at("id")) == id);
        CHECK(t.at("isDeleted").as_bool());
        CHECK(str(t.at("deletedDateTime")) == view.deleted_at);
        CHECK(t.size() == before.size()); // the same keys as the live record
        for (const auto& kv : before)
            CHECK(t.contains(kv.key()));
        if (kind == shape::empty) {
            CHECK(str(t.at("modifiedDateTime")) == view.deleted_at);
            std::size_t nulls = 0;
            for (const auto& kv : t)
                nulls += kv.value().is_null() ? 1 : 0;
            CHECK(nulls == t.size() - 4);
        } else {
            auto expected = before;
            expected["isDeleted"] = true;
            expected["deletedDateTime"] = view.deleted_at;
            if (kind == shape::full_record)
                expected["modifiedDateTime"] = view.deleted_at;
            CHECK(json::value(t) == json::value(expected));
            if (kind == shape::last_version)
                CHECK(str(t.at("modifiedDateTime")) < view.deleted_at); // older than the deletion
        }
        CHECK(ids_of(all_live(f.client, token, name)).count(id) == 0); // never in full mode
        // Purged: gone from both modes.
        f.server.purge(name, {id});
        CHECK(f.server.snapshot(name).count(id) == 0);
        CHECK(records_of(pages(
                             f.client,
                             token,
                             fmt::format("{}ModifiedSince={}", everything(name), view.deleted_at),
                             name
                         ))
                  .empty());
    }
}

TEST_CASE(
    "fake_ditio: the crew list answers for today by default and leaves open passages out without IncludeOpen"
)
{
    running f;
    f.server.seed_streams(200, 4, "2024-01-01", "2024-12-31");
    auto fresh = f.server.insert("crew-list-registrations", 30);
    auto token = f.client.token();
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto today = ditio_sync::util::format_iso8601_s(now).substr(0, 10);

    std::size_t open_today = 0;
    auto snap = f.server.snapshot("crew-list-registrations");
    for (const auto& id : fresh)
        open_today += json::parse(snap.at(id).json).at("checkOutDateTime").is_null() ? 1 : 0;
    CHECK(open_today > 0);
    CHECK(open_today < fresh.size());

    auto closed = records_of(pages(f.client, token, "", "crew-list-registrations"));
    CHECK(closed.size() == fresh.size() - open_today);
    for (const auto& r : closed) {
        CHECK(str(r.at("checkInDateTime")).substr(0, 10) == today);
        CHECK(str(r.at("checkInDateTime")).ends_with("+00:00"));
        CHECK(str(r.at("checkOutDateTime")).ends_with("+00:00"));
    }
    auto with_open = records_of(pages(f.client, token, "IncludeOpen=true", "crew-list-registrations"));
    CHECK(ids_of(with_open) == std::set<std::string>(fresh.begin(), fresh.end()));

    // A window replaces the default; ProjectIds (comma-separated) narrows to those projects.
    auto year = records_of(pages(
        f.client,
        token,
        "FromDateTime=2024-01-01&ToDateTime=2024-12-31T23:59:59Z&includeOpen=TRUE",
        "crew-list-registrations"
    ));
    CHECK(year.size() == 200);
    auto year_closed = records_of(pages(
        f.client, token, "FromDateTime=2024-01-01&ToDateTime=2024-12-31T23:59:59Z", "crew-list-registrations"
    ));
    CHECK(year_closed.size() < 200);
    CHECK(year_closed.size() > 150);
    auto a = str(year[0].at("projectId")), b = str(year[1].at("projectId"));
    auto two = records_of(pages(
        f.client,
        token,
        fmt::format(
            "FromDateTime=2024-01-01&ToDateTime=2024-12-31T23:59:59Z&IncludeOpen=true&ProjectIds={},{}", a, b
        ),
        "crew-list-registrations"
    ));
    std::size_t expected = 0;
    for (const auto& r : year)
        expected += str(r.at("projectId")) == a || str(r.at("projectId")) == b ? 1 : 0;
    CHECK(two.size() == expected);
    CHECK(two.size() < year.size());

    // Incremental mode is not limited to today.
    CHECK(
        records_of(
            pages(f.client, token, "ModifiedSince=2000-01-01&IncludeOpen=true", "crew-list-registrations")
        )
            .size() == 230
    );
}

TEST_CASE("fake_ditio: absence filters and sensitive fields")
{
    running f;
    f.server.seed_streams(300, 5);
    auto token = f.client.token();
    const std::string name = "absence-registrations";
    auto all = all_live(f.client, token, name);
    REQUIRE(all.size() == 300);
    auto count_where = [&](auto&& pred) {
        return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), pred));
    };
    auto flag = [](const char* key, bool value) {
        return [=](const json::object& r) { return r.at(key).as_bool() == value; };
    };
    for (const auto& filter : std::vector<std::pair<std::string, std::size_t>>{
             {"Approved=true&", count_where(flag("approved", true))},
             {"Approved=false&", count_where(flag("approved", false))},
             {"ApprovedPayroll=true&", count_where(flag("payrollApproved", true))},
             {"locked=True&", count_where(flag("locked", true))},
             {"Approved=true&Locked=false&", count_where([](const json::object& r) {
                  return r.at("approved").as_bool() && !r.at("locked").as_bool();
              })},
         }) {
        const auto& query = filter.first;
        auto expected = filter.second;
        INFO(query);
        auto got = all_live(f.client, token, name, query);
        CHECK(got.size() == expected);
        CHECK(expected > 0);
        CHECK(expected < all.size());
    }
    CHECK(status_of(f.client, token, stream_path(name) + "?Approved=maybe") == 400);

    // Sensitive fields are absent unless asked for.
    std::size_t reasons = 0, children = 0;
    for (const auto& r : all) {
        CHECK_FALSE(r.contains("absenceReason"));
        CHECK_FALSE(r.contains("childName"));
        CHECK(r.contains("userName"));
        CHECK(str(r.at("date")).ends_with("T00:00:00Z"));
    }
    auto sensitive = all_live(f.client, token, name, "IncludeSensitiveData=true&");
    REQUIRE(sensitive.size() == all.size());
    for (const auto& r : sensitive) {
        CHECK(r.contains("absenceReason"));
        CHECK(r.contains("childName"));
        CHECK(r.contains("childBirthDate"));
        reasons += r.at("absenceReason").is_null() ? 0 : 1;
        children += r.at("childName").is_null() ? 0 : 1;
    }
    CHECK(reasons > 0);
    CHECK(children > 0);

    // One row per absence day: multi-day registrations share a registrationId.
    std::map<std::string, int> days;
    for (const auto& r : all)
        ++days[str(r.at("registrationId"))];
    CHECK(std::any_of(days.begin(), days.end(), [](const auto& kv) { return kv.second > 1; }));
}

TEST_CASE("fake_ditio: payroll-lines-extended leaves out fixed-pay employees and unapproved lines by default")
{
    running f;
    f.server.seed_streams(400, 6);
    auto token = f.client.token();
    const std::string name = "payroll-lines-extended";
    auto fetch = [&](const std::string& query) {
        return records_of(pages(f.client, token, fmt::format("{}{}ChunkLimit=10000", any_time, query), name));
    };
    auto all = fetch("ExportFilter=All&UserPayrollTypeFilter=AllUsers&");
    REQUIRE(all.size() == 400);
    auto by_default = fetch("");
    auto all_lines = fetch("ExportFilter=All&");
    auto all_users = fetch("UserPayrollTypeFilter=AllUsers&");

    std::set<std::string> default_users, all_lines_users, every_user;
    for (const auto& r : by_default) {
        CHECK(r.at("approved").as_bool());
        default_users.insert(str(r.at("userId")));
    }
    for (const auto& r : all_lines)
        all_lines_users.insert(str(r.at("userId")));
    for (const auto& r : all)
        every_user.insert(str(r.at("userId")));
    // Some employees (the fixed-pay ones) only appear with UserPayrollTypeFilter=AllUsers.
    CHECK(all_lines_users.size() < every_user.size());
    CHECK(default_users.size() < every_user.size());
    for (const auto& r : all_users)
        CHECK(r.at("approved").as_bool());
    std::size_t approved = 0;
    for (const auto& r : all)
        approved += r.at("approved").as_bool() ? 1 : 0;
    CHECK(all_users.size() == approved);
    CHECK(by_default.size() < all_users.size());
    CHECK(all_lines.size() < all.size());
    CHECK(all_lines.size() > by_default.size());
    CHECK(std::any_of(all.begin(), all.end(), [](const json::object& r) {
        return !r.at("overtimeLines").as_array().empty();
    }));
}

TEST_CASE("fake_ditio: images filter by Sources, repeated or comma-separated")
{
    running f;
    f.server.seed_streams(300, 7);
    auto token = f.client.token();
    auto all = all_live(f.client, token, "images");
    REQUIRE(all.size() == 300);
    std::map<std::string, std::size_t> per_source;
    for (const auto& r : all)
        ++per_source[str(r.at("source"))];
    REQUIRE(per_source.size() == 3);
    CHECK(all_live(f.client, token, "images", "Sources=feed&").size() == per_source["feed"]);
    CHECK(all_live(f.client, token, "images", "sources=checklist&").size() == per_source["checklist"]);
    auto two = per_source["feed"] + per_source["alert"];
    CHECK(all_live(f.client, token, "images", "Sources=feed&Sources=alert&").size() == two);
    CHECK(all_live(f.client, token, "images", "Sources=feed,alert&").size() == two);
    CHECK(all_live(f.client, token, "images", "Sources=&").size() == all.size());
    CHECK(status_of(f.client, token, stream_path("images") + "?Sources=video") == 400);

    // Checklist and alert images hang off real checklists and incidents.
    auto checklists = f.server.snapshot("checklist-registrations");
    auto incidents = f.server.snapshot("incident-registrations");
    for (const auto& r : all) {
        auto source = str(r.at("source"));
        if (source == "checklist")
            CHECK(checklists.count(str(r.at("parentId"))) == 1);
        else if (source == "alert")
            CHECK(incidents.count(str(r.at("parentId"))) == 1);
    }
}

TEST_CASE("fake_ditio: machine-registrations want From and To together and can cap the window")
{
    running f;
    f.server.seed_streams(100, 8, "2026-01-01", "2026-02-28");
    auto token = f.client.token();
    auto path = stream_path("machine-registrations");
    auto from_only = f.client.get(path + "?FromDateTime=2026-01-01", token);
    CHECK(from_only.status == 400);
    CHECK(str(from_only.json().at("error")) == "ValidationError");
    CHECK(status_of(f.client, token, path + "?ToDateTime=2026-01-01") == 400);
    CHECK(status_of(f.client, token, path) == 200);
    CHECK(status_of(f.client, token, path + "?FromDateTime=2026-01-01&ToDateTime=2026-12-31") == 200);

    f.server.set_max_window("machine-registrations", std::chrono::hours(7 * 24));
    CHECK(status_of(f.client, token, path + "?FromDateTime=2026-01-01&ToDateTime=2026-01-08") == 200);
    auto wide = f.client.get(path + "?FromDateTime=2026-01-01&ToDateTime=2026-01-08T00:00:01Z", token);
    CHECK(wide.status == 400);
    CHECK(
        wide.raw.body() ==
        R"({"error":"ValidationError","message":"The date range between FromDateTime and ToDateTime can be at most 7 days."})"
    );
    // Only full mode is capped.
    CHECK(
        status_of(
            f.client, token, path + "?FromDateTime=2026-01-01&ToDateTime=2026-12-31&ModifiedSince=2000-01-01"
        ) == 200
    );
    f.server.set_max_window("machine-registrations", std::chrono::hours(3 * 24));
    CHECK(
        str(f.client.get(path + "?FromDateTime=2026-01-01&ToDateTime=2026-01-08", token).json().at("message")
        ) == "The date range between FromDateTime and ToDateTime can be at most 3 days."
    );
    f.server.set_max_window("machine-registrations", std::nullopt);
    CHECK(status_of(f.client, token, path + "?FromDateTime=2026-01-01&ToDateTime=2026-12-31") == 200);

    // The window filters on stopDateTime, both ends inclusive.
    auto snap = f.server.snapshot("machine-registrations");
    std::set<std::string> expected;
    for (const auto& [id, v] : snap)
        if (v.window_at >= "2026-01-10T00:00:00Z" && v.window_at <= "2026-01-20T00:00:00Z")
            expected.insert(id);
    CHECK(!expected.empty());
    auto got = records_of(pages(
        f.client, token, "FromDateTime=2026-01-10&ToDateTime=2026-01-20T00:00:00Z", "machine-registrations"
    ));
    CHECK(ids_of(got) == expected);

    // The time-registrations store honours a cap too.
    f.server.set_max_window("time-registrations", std::chrono::hours(24));
    CHECK(
        status_of(
            f.client, token, std::string(data_path) + "?FromDateTime=2026-01-01&ToDateTime=2026-01-03"
        ) == 400
    );
}

TEST_CASE("fake_ditio: a window cap and a ModifiedSince cap refuse in each shape Ditio's sources allow")
{
    running f;
    f.server.seed_streams(20, 8, "2026-01-01", "2026-02-28");
    auto token = f.client.token();
    auto path = stream_path("machine-registrations");
    const std::string wide = path + "?FromDateTime=2026-01-01&ToDateTime=2026-01-09";
    using ditio_sync::testing::refusal_shape;

    f.server.set_max_window("machine-registrations", std::chrono::hours(7 * 24), refusal_shape::problem);
    auto problem = f.client.get(wide, token);
    CHECK(problem.status == 400);
    CHECK(problem.header(http::field::content_type) == "application/problem+json; charset=utf-8");
    CHECK(str(problem.json().at("title")) == "One or more validation errors occurred.");
    CHECK(problem.json().at("errors").is_object());
    // Nothing in it names the window.
    CHECK(problem.raw.body().find("DateTime") == std::string::npos);

    f.server.set_max_window("machine-registrations", std::chrono::hours(7 * 24), refusal_shape::empty);
    auto empty = f.client.get(wide, token);
    CHECK(empty.status == 400);
    CHECK(empty.raw.body().empty());

    f.server.set_max_window("machine-registrations", std::nullopt);
    CHECK(status_of(f.client, token, wide) == 200);

    // ModifiedSince more than 3 days before the server's clock.
    auto since = [](int days_back) {
        return ditio_sync::util::format_iso8601_s(std::chrono::time_point_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now() - std::chrono::hours(24 * days_back)
        ));
    };
    f.server.set_max_modified_since("machine-registrations", std::chrono::hours(72));
    auto old = f.client.get(path + "?ModifiedSince=" + since(4), token);
    CHECK(old.status == 400);
    CHECK(str(old.json().at("message")) == "ModifiedSince can be at most 3 days back.");
    CHECK(status_of(f.client, token, path + "?ModifiedSince=" + since(2)) == 200);
    CHECK(status_of(f.client, token, path) == 200); // full mode has no ModifiedSince to cap
    CHECK(status_of(f.client, token, stream_path("project") + "?ModifiedSince=" + since(4)) == 200);
    f.server.set_max_modified_since("machine-registrations", std::chrono::hours(72), refusal_shape::problem);
    CHECK(
        str(f.client.get(path + "?ModifiedSince=" + since(4), token).json().at("title")) ==
        "One or more validation errors occurred."
    );
    f.server.set_max_modified_since("machine-registrations", std::chrono::hours(72), refusal_shape::empty);
    auto bare = f.client.get(path + "?ModifiedSince=" + since(4), token);
    CHECK(bare.status == 400);
    CHECK(bare.raw.body().empty());
    f.server.set_max_modified_since("machine-registrations", std::nullopt);
    CHECK(status_of(f.client, token, path + "?ModifiedSince=" + since(4)) == 200);

    CHECK(ditio_sync::testing::parse_refusal_shape("problem") == refusal_shape::problem);
    CHECK_FALSE(ditio_sync::testing::parse_refusal_shape("html").has_value());
}

TEST_CASE("fake_ditio: an unavailable stream answers 404 until it is made available again")
{
    running f;
    f.server.seed_streams(10, 9);
    auto token = f.client.token();
    auto path = stream_path("flow-trip-registrations");
    f.server.set_stream_available("flow-trip-registrations", false);
    auto gone = f.client.get(path + "?ModifiedSince=2000-01-01", token);
    CHECK(gone.status == 404);
    CHECK(
        gone.raw.body() ==
        R"({"error":"NotFound","message":"This endpoint is not available on this environment yet."})"
    );
    CHECK(status_of(f.client, token, stream_path("flow-locations")) == 200);
    f.server.set_stream_available("time-registrations", false);
    CHECK(status_of(f.client, token, std::string(data_path)) == 404);
    f.server.set_stream_available("flow-trip-registrations", true);
    f.server.set_stream_available("time-registrations", true);
    CHECK(status_of(f.client, token, path + "?ModifiedSince=2000-01-01") == 200);
    CHECK(status_of(f.client, token, std::string(data_path)) == 200);
    CHECK(status_of(f.client, token, "/reporting/v1/documents") == 404);
    CHECK_THROWS_AS(f.server.set_stream_available("documents", false), std::invalid_argument);
    CHECK_THROWS_AS(f.server.insert("documents", 1), std::invalid_argument);

    // Faults and request logs cover every data path.
    auto busy = make_fault(fault::kind::status, "/v1/project");
    busy.status = 503;
    f.server.inject(busy);
    CHECK(status_of(f.client, token, stream_path("project")) == 503);
    CHECK(status_of(f.client, token, stream_path("project")) == 200);
    auto log = f.server.requests();
    REQUIRE(!log.empty());
    CHECK(log.back().path == "/reporting/v1/project");
    CHECK(log.back().records == 20);
}

TEST_CASE("fake_ditio: checklists, incidents and metadata ignore the date window")
{
    running f;
    f.server.seed_streams(80, 10, "2024-01-01", "2024-12-31");
    auto token = f.client.token();
    const std::string far = "FromDateTime=2030-01-01&ToDateTime=2030-01-02&ChunkLimit=10000";
    for (std::string name : {
             "checklist-registrations",
             "incident-registrations",
             "machine-checklist-registrations",
             "machine-incident-registrations",
             "project",
             "project/work-breakdown-structure",
             "user",
             "resource",
             "flow-locations",
             "flow-mass-types",
         }) {
        INFO("stream ", name);
        auto got = records_of(pages(f.client, token, far, name));
        CHECK(got.size() == f.server.live_count(name));
        CHECK(got.size() >= 8);
        for (std::size_t i = 0; i + 1 < got.size(); ++i)
            CHECK(str(got[i].at("id")) < str(got[i + 1].at("id")));
    }
    for (std::string name : {"machine-registrations", "images", "flow-trip-registrations", "payroll-lines"})
        CHECK(records_of(pages(f.client, token, far, name)).empty());
}

TEST_CASE("fake_ditio: registrations of every stream join to the metadata streams")
{
    running f;
    f.server.seed(500, 11);
    f.server.seed_streams(300, 11);
    auto token = f.client.token();

    auto users = all_live(f.client, token, "user");
    std::set<std::string> identities, profiles;
    std::map<std::string, std::vector<json::object>> by_identity;
    for (const auto& u : users) {
        CHECK(profiles.insert(str(u.at("id"))).second);
        identities.insert(str(u.at("identityUserId")));
        by_identity[str(u.at("identityUserId"))].push_back(u);
    }
    std::size_t two_profiles = 0;
    for (const auto& [identity, rows] : by_identity) {
        if (rows.size() < 2)
            continue;
        ++two_profiles;
        CHECK(str(rows[0].at("companyId")) != str(rows[1].at("companyId")));
        CHECK(rows[0].at("isActiveEmployment").as_bool() != rows[1].at("isActiveEmployment").as_bool());
    }
    CHECK(two_profiles >= 2);

    std::map<std::string, json::object> projects, tasks;
    for (const auto& p : all_live(f.client, token, "project"))
        projects.emplace(str(p.at("id")), p);
    for (const auto& t : all_live(f.client, token, "project/work-breakdown-structure")) {
        CHECK(projects.count(str(t.at("projectId"))) == 1);
        tasks.emplace(str(t.at("id")), t);
    }
    CHECK(projects.size() == 20);
    CHECK(tasks.size() == 120);
    std::set<std::string> resources, locations, masses;
    for (const auto& r : all_live(f.client, token, "resource"))
        resources.insert(str(r.at("id")));
    for (const auto& l : all_live(f.client, token, "flow-locations")) {
        locations.insert(str(l.at("id")));
        CHECK(projects.count(str(l.at("projectId"))) == 1);
    }
    for (const auto& m : all_live(f.client, token, "flow-mass-types"))
        masses.insert(str(m.at("id")));

    const std::vector<std::pair<std::string, const std::set<std::string>*>> joins{
        {"userId", &identities},
        {"driverId", &identities},
        {"createdByUserId", &identities},
        {"resourceId", &resources},
        {"machineId", &resources},
        {"loaderId", &resources},
        {"dumperId", &resources},
        {"massTypeId", &masses},
        {"loadLocationId", &locations},
        {"dumpLocationId", &locations},
    };
    for (const auto& name : fake_ditio::stream_names()) {
        if (name == "project" || name == "project/work-breakdown-structure" || name == "user" ||
            name == "resource" || name == "flow-locations" || name == "flow-mass-types")
            continue;
        INFO("stream ", name);
        std::size_t checked = 0;
        for (const auto& r : all_live(f.client, token, name)) {
            for (const auto& [key, targets] : joins)
                if (auto* v = r.if_contains(key); v && !v->is_null()) {
                    CHECK(targets->count(str(*v)) == 1);
                    ++checked;
                }
            if (auto* p = r.if_contains("projectId"); p && !p->is_null()) {
                REQUIRE(projects.count(str(*p)) == 1);
                const auto& project = projects.at(str(*p));
                if (auto* number = r.if_contains("projectNumber"))
                    CHECK(*number == project.at("number"));
                if (auto* pname = r.if_contains("projectName"))
                    CHECK(*pname == project.at("name"));
                ++checked;
            }
            for (const char* key : {"taskId", "activityId"})
                if (auto* t = r.if_contains(key); t && !t->is_null()) {
                    REQUIRE(tasks.count(str(*t)) == 1);
                    CHECK(tasks.at(str(*t)).at("projectId") == r.at("projectId"));
                    if (auto* tname = r.if_contains("taskName"))
                        CHECK(*tname == tasks.at(str(*t)).at("name"));
                    ++checked;
                }
        }
        CHECK(checked > 0);
    }
}

TEST_CASE("fake_ditio: company filters, stream-bound tokens and metadata mutations")
{
    running f;
    f.server.seed_streams(100, 12);
    auto token = f.client.token();
    const std::string own = "5f0c3a9e1d2b4c6a8e0f1a2b";
    CHECK(all_live(f.client, token, "project").size() == 20);
    CHECK(all_live(f.client, token, "project", "CompanyId=" + own + "&").size() == 19);
    CHECK(all_live(f.client, token, "project", "CompanyId=61a7e2c4b9d8f0a1c2e3d4f5&").size() == 1);
    CHECK(all_live(f.client, token, "project", "OwnCompanyDataOnly=true&").size() == 19);
    CHECK(all_live(f.client, token, "project", "ExcludeDataFromSubsidiaries=true&").size() == 19);
    CHECK(status_of(f.client, token, stream_path("project") + "?ModifiedBefore=2026-01-01") == 400);
    CHECK(
        status_of(
            f.client, token, stream_path("project") + "?ModifiedSince=2026-01-01&ModifiedBefore=2026-01-01"
        ) == 400
    );
    auto modified = f.server.snapshot("project");
    auto median = std::next(modified.begin(), 10)->second.modified;
    std::size_t older = 0;
    for (const auto& [id, v] : modified)
        older += v.modified < median ? 1 : 0;
    CHECK(
        records_of(pages(f.client, token, "ModifiedSince=2000-01-01&ModifiedBefore=" + median, "project"))
            .size() == older
    );
    auto one_project = str(all_live(f.client, token, "project").at(3).at("id"));
    auto wbs =
        all_live(f.client, token, "project/work-breakdown-structure", "ProjectId=" + one_project + "&");
    CHECK(wbs.size() == 6);

    // A token only works for the stream and the parameters it was issued for.
    auto images = stream_path("images");
    auto first = f.client.get(images + "?Sources=feed&ChunkLimit=5", token);
    REQUIRE(first.status == 200);
    auto next = str(first.json().at("continuationToken"));
    CHECK(status_of(f.client, token, images + "?Sources=feed&ChunkLimit=5&ContinuationToken=" + next) == 200);
    CHECK(
        status_of(f.client, token, images + "?Sources=alert&ChunkLimit=5&ContinuationToken=" + next) == 400
    );
    CHECK(
        status_of(
            f.client, token, stream_path("payroll-lines") + "?ChunkLimit=5&ContinuationToken=" + next
        ) == 400
    );
    auto inc = f.client.get(stream_path("user") + "?ModifiedSince=2000-01-01&ChunkLimit=5", token);
    auto inc_next = str(inc.json().at("continuationToken"));
    CHECK(
        status_of(f.client, token, stream_path("user") + "?ChunkLimit=5&ContinuationToken=" + inc_next) == 400
    );
    CHECK(
        status_of(
            f.client,
            token,
            stream_path("user") + "?ModifiedSince=2000-01-01&ChunkLimit=5&ContinuationToken=" + inc_next
        ) == 200
    );

    // New metadata entries, edits and purges, through the same API as registrations.
    auto added = f.server.insert("project", 2);
    REQUIRE(added.size() == 2);
    CHECK(f.server.live_count("project") == 22);
    auto fresh = json::parse(f.server.snapshot("project").at(added[0]).json);
    CHECK(str(fresh.at("number")).rfind("P-24", 0) == 0);
    auto old = f.server.snapshot("resource").begin()->second;
    auto resource_id = f.server.snapshot("resource").begin()->first;
    f.server.edit("resource", {resource_id});
    auto edited = f.server.snapshot("resource").at(resource_id);
    CHECK(edited.modified > old.modified);
    CHECK(edited.json != old.json);
    f.server.purge("project", {added[1]});
    CHECK(f.server.live_count("project") == 21);
    CHECK(ids_of(all_live(f.client, token, "project")).count(added[1]) == 0);

    // The same calls reach the time-registrations store.
    auto tr = f.server.insert("time-registrations", 3);
    CHECK(f.server.live_count("time-registrations") == 3);
    CHECK(f.server.live_count() == 3);
    auto tr_view = f.server.snapshot("time-registrations").at(tr[0]);
    CHECK(tr_view.window_at == tr_view.work_date);
    f.server.remove("time-registrations", {tr[1]});
    CHECK(f.server.pick_live("time-registrations", 10, 1).size() == 2);
}

TEST_CASE("fake_ditio: the control endpoint mutates any stream")
{
    fake_options o;
    o.tls = false;
    o.control_endpoint = true;
    running f(o);
    f.server.seed_streams(50, 13);
    auto mutate =
        f.client.send({http::verb::post, "/_fake/mutate?stream=project&insert=2&edit=3&delete=1&seed=4", 11});
    REQUIRE(mutate.status == 200);
    auto m = mutate.json();
    CHECK(m.at("inserted").as_int64() == 2);
    CHECK(m.at("edited").as_int64() == 3);
    CHECK(m.at("deleted").as_int64() == 1);
    CHECK(m.at("live").as_int64() == 21);
    auto images = f.client.send({http::verb::post, "/_fake/mutate?stream=images&insert=4", 11});
    CHECK(images.json().at("live").as_int64() == 54);
    CHECK(f.client.send({http::verb::post, "/_fake/mutate?stream=nope&insert=1", 11}).status == 400);
}

TEST_CASE("fake_ditio: seeding every stream is deterministic for a seed")
{
    fake_ditio a(tls_options()), b(tls_options()), c(tls_options());
    a.seed_streams(40, 99, "2025-01-01", "2025-06-30");
    b.seed_streams(40, 99, "2025-01-01", "2025-06-30");
    c.seed_streams(40, 98, "2025-01-01", "2025-06-30");
    for (const auto& name : fake_ditio::stream_names()) {
        if (name == "time-registrations")
            continue;
        INFO("stream ", name);
        auto sa = a.snapshot(name), sb = b.snapshot(name);
        CHECK(live_ids(sa) == live_ids(sb));
        CHECK(a.pick_live(name, 5, 1) == b.pick_live(name, 5, 1));
        for (const auto& [id, v] : sa) {
            CHECK(v.window_at == sb.at(id).window_at);
            if (!v.window_at.empty()) {
                CHECK(v.window_at >= "2025-01-01");
                CHECK(v.window_at < "2025-07-01");
            }
        }
        auto meta = name == "project" || name == "project/work-breakdown-structure" || name == "user" ||
                    name == "resource" || name == "flow-locations" || name == "flow-mass-types";
        CHECK((live_ids(c.snapshot(name)) == live_ids(sa)) == meta); // the pools do not depend on the seed
        CHECK(sa.size() == (meta ? sa.size() : 40));
    }
    // Seeding again adds registrations but no second copy of the pools.
    a.seed_streams(10, 5);
    CHECK(a.live_count("project") == 20);
    CHECK(a.live_count("images") == 50);
}

// --- Integration API (ditio-api.md 4.1-4.3) ---

namespace {

constexpr std::string_view integration = "/core/api/v4/integration";
constexpr std::string_view own_company = "5f0c3a9e1d2b4c6a8e0f1a2b";

reply send_json(
    test_client& client, http::verb verb, std::string_view target, std::string_view token, std::string body
)
{
    http::request<http::string_body> req{verb, target, 11};
    if (!token.empty())
        req.set(http::field::authorization, fmt::format("Bearer {}", token));
    if (verb != http::verb::get && verb != http::verb::delete_) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
    }
    return client.send(std::move(req));
}

std::string ipath(std::string_view rest)
{
    return fmt::format("{}/{}", integration, rest);
}

// POSTs a project of our company; `extra` is more JSON members (",\"active\":true").
reply post_project(
    test_client& c, std::string_view token, std::string_view number, std::string_view extra = {}
)
{
    return send_json(
        c,
        http::verb::post,
        ipath("projects"),
        token,
        fmt::format(R"({{"companyId":"{}","projectNumber":"{}"{}}})", own_company, number, extra)
    );
}

reply post_task(
    test_client& c,
    std::string_view token,
    std::string_view project_id,
    std::string_view external_id,
    std::string_view extra = {}
)
{
    return send_json(
        c,
        http::verb::post,
        ipath("tasks"),
        token,
        fmt::format(
            R"({{"companyId":"{}","projectId":"{}","externalId":"{}"{}}})",
            own_company,
            project_id,
            external_id,
            extra
        )
    );
}

bool is_object_id(const json::value& v)
{
    if (!v.is_string() || v.as_string().size() != 24)
        return false;
    return std::all_of(v.as_string().begin(), v.as_string().end(), [](char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
    });
}

} // namespace

TEST_CASE("fake_ditio: integration project POST creates once, then returns the project unchanged")
{
    running f;
    auto token = f.client.token("ditioapiv3");
    auto created = post_project(
        f.client,
        token,
        "P-1001",
        R"(,"name":"Prosjekt Fjellhall","active":true,"projectCustomerName":"Åsane kommune")"
    );
    REQUIRE(created.status == 201);
    auto p = created.json().as_object();
    CHECK(is_object_id(p.at("id")));
    CHECK(str(p.at("companyId")) == own_company);
    CHECK(str(p.at("name")) == "Prosjekt Fjellhall");
    CHECK(p.at("active").as_bool());
    CHECK_FALSE(p.at("requireTaskNumber").as_bool());
    CHECK(str(p.at("projectCustomerName")) == "Åsane kommune");
    auto id = str(p.at("id"));

    auto again = post_project(f.client, token, "P-1001", R"(,"name":"Annet navn","active":false)");
    CHECK(again.status == 200);
    CHECK(again.json() == json::value(p));

    auto other = post_project(f.client, token, "P-1002");
    REQUIRE(other.status == 201);
    CHECK(str(other.json().at("id")) != id);
    CHECK_FALSE(other.json().at("active").as_bool()); // active defaults to false

    auto by_number = f.client.get(ipath("projects/by-project-number/P-1001"), token);
    CHECK(by_number.status == 200);
    CHECK(by_number.json() == json::value(p));
    CHECK(f.client.get(ipath("projects/by-project-number/P-9999"), token).status == 404);
    CHECK(f.client.get(ipath("projects/" + id), token).json() == json::value(p));
    CHECK(f.client.get(ipath("projects/000000000000000000000000"), token).status == 404);
    auto all = f.client.get(ipath("projects"), token);
    REQUIRE(all.status == 200);
    CHECK(all.json().as_array().size() == 2);

    SUBCASE("PATCH changes only the fields sent")
    {
        auto patched = send_json(
            f.client,
            http::verb::patch,
            ipath("projects/" + id),
            token,
            R"({"description":"Byggegrop og fjellhall"})"
        );
        REQUIRE(patched.status == 200);
        auto q = patched.json().as_object();
        CHECK(str(q.at("description")) == "Byggegrop og fjellhall");
        CHECK(str(q.at("name")) == "Prosjekt Fjellhall");
        CHECK(q.at("active").as_bool());
        CHECK(
            str(f.client.get(ipath("projects/" + id), token).json().at("description")) ==
            "Byggegrop og fjellhall"
        );
    }
    SUBCASE("PATCH never creates and wants a JSON object")
    {
        CHECK(
            send_json(f.client, http::verb::patch, ipath("projects/000000000000000000000000"), token, "{}")
                .status == 404
        );
        auto array = send_json(f.client, http::verb::patch, ipath("projects/" + id), token, "[1]");
        CHECK(array.status == 400);
        CHECK(send_json(f.client, http::verb::patch, ipath("projects/" + id), token, "{").status == 400);
        CHECK(f.server.integration_projects().size() == 2);
    }
    SUBCASE("a foreign company is the same 404 as a missing project")
    {
        auto foreign = send_json(
            f.client,
            http::verb::post,
            ipath("projects"),
            token,
            R"({"companyId":"61a7e2c4b9d8f0a1c2e3d4f5","projectNumber":"P-2000"})"
        );
        CHECK(foreign.status == 404);
        auto patch = send_json(
            f.client,
            http::verb::patch,
            ipath("projects/" + id),
            token,
            R"({"companyId":"61a7e2c4b9d8f0a1c2e3d4f5","name":"Kapret"})"
        );
        CHECK(patch.status == 404);
        CHECK(str(f.client.get(ipath("projects/" + id), token).json().at("name")) == "Prosjekt Fjellhall");
        CHECK(f.server.integration_projects().size() == 2);
    }
    SUBCASE("companyId and projectNumber are required")
    {
        CHECK(
            send_json(f.client, http::verb::post, ipath("projects"), token, R"({"projectNumber":"P-3"})")
                .status == 400
        );
        auto no_number = send_json(
            f.client,
            http::verb::post,
            ipath("projects"),
            token,
            fmt::format(R"({{"companyId":"{}"}})", own_company)
        );
        CHECK(no_number.status == 400);
        CHECK(str(no_number.json().at("error")) == "ValidationError");
    }
}

TEST_CASE("fake_ditio: integration tasks are unique per project and need a known project and parent")
{
    running f;
    auto token = f.client.token("ditioapiv3");
    auto p1 = str(post_project(f.client, token, "P-1001").json().at("id"));
    auto p2 = str(post_project(f.client, token, "P-1002").json().at("id"));

    auto created =
        post_task(f.client, token, p1, "WO-001", R"(,"name":"Graving byggegrop","estimatedHourQty":120.5)");
    REQUIRE(created.status == 201);
    auto t = created.json().as_object();
    CHECK(is_object_id(t.at("id")));
    CHECK(str(t.at("projectId")) == p1);
    CHECK(str(t.at("externalId")) == "WO-001");
    CHECK_FALSE(t.at("active").as_bool());
    CHECK(t.at("estimatedHourQty").to_number<double>() == doctest::Approx(120.5));
    CHECK(t.at("parentActivityId").is_null());
    auto tid = str(t.at("id"));

    auto dup = post_task(f.client, token, p1, "WO-001", R"(,"name":"Igjen")");
    CHECK(dup.status == 400);
    CHECK(str(dup.json().at("error")) == "DuplicateExternalId");
    CHECK_FALSE(str(dup.json().at("message")).empty());
    CHECK(post_task(f.client, token, p2, "WO-001").status == 201); // unique per project only
    CHECK(post_task(f.client, token, "000000000000000000000000", "WO-002").status == 404);
    CHECK(
        post_task(f.client, token, p2, "WO-003", fmt::format(R"(,"parentActivityId":"{}")", tid)).status ==
        404
    );
    auto child = post_task(f.client, token, p1, "WO-001.1", fmt::format(R"(,"parentActivityId":"{}")", tid));
    REQUIRE(child.status == 201);
    CHECK(str(child.json().at("parentActivityId")) == tid);
    CHECK(f.server.integration_tasks().size() == 3);

    auto in_p1 = f.client.get(ipath("tasks/project/" + p1), token);
    REQUIRE(in_p1.status == 200);
    CHECK(in_p1.json().as_array().size() == 2);
    auto by_number = f.client.get(ipath("tasks/by-project-number/P-1002"), token);
    REQUIRE(by_number.status == 200);
    CHECK(by_number.json().as_array().size() == 1);
    CHECK(f.client.get(ipath("tasks/by-project-number/P-9999"), token).status == 404);
    CHECK(f.client.get(ipath("tasks/" + tid), token).json() == json::value(t));
    CHECK(f.client.get(ipath("tasks/000000000000000000000000"), token).status == 404);

    auto patched = send_json(f.client, http::verb::patch, ipath("tasks/" + tid), token, R"({"active":true})");
    REQUIRE(patched.status == 200);
    CHECK(patched.json().at("active").as_bool());
    CHECK(str(patched.json().at("name")) == "Graving byggegrop");
    CHECK(patched.json().at("estimatedHourQty").to_number<double>() == doctest::Approx(120.5));
    CHECK(
        send_json(f.client, http::verb::patch, ipath("tasks/000000000000000000000000"), token, "{}").status ==
        404
    );
    auto clash = send_json(
        f.client,
        http::verb::patch,
        ipath("tasks/" + str(child.json().at("id"))),
        token,
        R"({"externalId":"WO-001"})"
    );
    CHECK(clash.status == 400);
    CHECK(str(clash.json().at("error")) == "DuplicateExternalId");
}

TEST_CASE("fake_ditio: a configured external project number list is enforced with Ditio's Norwegian message")
{
    running f;
    auto token = f.client.token("ditioapiv3");
    auto free_text = post_project(f.client, token, "P-1", R"(,"externalProjectNumber":"hva som helst")");
    REQUIRE(free_text.status == 201);
    auto id = str(free_text.json().at("id"));

    f.server.set_external_project_numbers(std::vector<std::string>{"EXT-55123", "EXT-1"});
    auto wrong = post_project(f.client, token, "P-2", R"(,"externalProjectNumber":"EXT-9")");
    CHECK(wrong.status == 400);
    CHECK(str(wrong.json().at("error")) == "ValidationError");
    CHECK(
        str(wrong.json().at("message")) == "Extern prosjektnummer EXT-9 er ikke en gyldig. Velg fra listen"
    );
    auto missing = post_project(f.client, token, "P-3");
    CHECK(missing.status == 400);
    CHECK(str(missing.json().at("message")).rfind("Extern prosjektnummer ", 0) == 0);
    CHECK(post_project(f.client, token, "P-4", R"(,"externalProjectNumber":"EXT-1")").status == 201);

    // PATCH is checked on the value the project would have: the stored free text no longer passes.
    auto patch = [&](std::string body) {
        return send_json(f.client, http::verb::patch, ipath("projects/" + id), token, std::move(body));
    };
    CHECK(patch(R"({"active":true})").status == 400);
    CHECK(patch(R"({"externalProjectNumber":"EXT-2"})").status == 400);
    CHECK(patch(R"({"externalProjectNumber":"EXT-55123"})").status == 200);
    f.server.set_external_project_numbers(std::nullopt);
    CHECK(patch(R"({"externalProjectNumber":"EXT-2"})").status == 200);
    CHECK(f.server.integration_projects().size() == 2);
}

TEST_CASE("fake_ditio: the Integration API wants a token with ditioapiv3")
{
    running f;
    CHECK(post_project(f.client, "", "P-1").status == 401);
    auto reporting = f.client.token("reportingapiv1");
    CHECK(post_project(f.client, reporting, "P-1").status == 401);
    CHECK(f.client.get(ipath("projects"), reporting).status == 401);
    f.server.set_wrong_scope_status(403);
    auto forbidden = post_project(f.client, reporting, "P-1");
    CHECK(forbidden.status == 403);
    CHECK(str(forbidden.json().at("message")).find("ditioapiv3") != std::string::npos);
    CHECK(f.server.integration_projects().empty());

    auto core = f.client.token("ditioapiv3");
    CHECK(post_project(f.client, core, "P-1").status == 201);
    // And the reverse: a core-only token reads no extraction data.
    CHECK(f.client.get(stream_path("project"), core).status == 403);
}

TEST_CASE("fake_ditio: integration writes are recorded, faulted and held like data requests")
{
    running f;
    auto token = f.client.token("ditioapiv3");
    auto id = str(post_project(f.client, token, "P-1001").json().at("id"));
    CHECK(f.client.get(ipath("projects/" + id), token).status == 200);
    CHECK(
        send_json(f.client, http::verb::patch, ipath("projects/" + id), token, R"({"name":"Fjellhall"})")
            .status == 200
    );
    CHECK(
        send_json(f.client, http::verb::put, ipath("projects/" + id), token, R"({"projectNumber":"P-1001"})")
            .status == 200
    );
    CHECK(f.client.get(ipath("projects/" + id), token).json().at("name").is_null()
    ); // PUT replaces everything

    auto writes = f.server.integration_writes();
    REQUIRE(writes.size() == 3);
    CHECK(writes[0].method == "POST");
    CHECK(writes[0].path == ipath("projects"));
    CHECK(json::parse(writes[0].body).at("projectNumber") == "P-1001");
    CHECK(writes[0].status == 201);
    CHECK(json::parse(writes[0].response).at("id") == json::value(id));
    CHECK(writes[1].method == "PATCH");
    CHECK(writes[1].path == ipath("projects/" + id));
    CHECK(writes[1].body == R"({"name":"Fjellhall"})");
    CHECK(writes[2].method == "PUT");
    auto logged = f.server.requests();
    CHECK(std::count_if(logged.begin(), logged.end(), [](const request_record& r) {
              return r.path.find("/api/v4/integration/") != std::string::npos;
          }) == 5);

    // A fault on the collection path answers instead of the server: nothing is created, the write recorded.
    auto fail = make_fault(fault::kind::status, "/api/v4/integration/projects");
    fail.status = 503;
    f.server.inject(fail);
    CHECK(post_project(f.client, token, "P-1002").status == 503);
    CHECK(f.server.integration_projects().size() == 1);
    REQUIRE(f.server.integration_writes().size() == 4);
    CHECK(f.server.integration_writes().back().status == 503);

    // A held write is applied before its answer is held back.
    f.server.hold_integration_write(1);
    std::atomic<int> held_status{-1};
    std::thread held([&] {
        test_client other(f.server.port());
        held_status = post_project(other, token, "P-1003").status;
    });
    CHECK(f.server.wait_until_held(5s));
    CHECK(f.server.integration_projects().size() == 2);
    CHECK(f.client.get(ipath("projects/by-project-number/P-1003"), token).status == 200); // GETs pass
    std::this_thread::sleep_for(20ms);
    CHECK(held_status == -1);
    f.server.release();
    held.join();
    CHECK(held_status == 201);

    CHECK(send_json(f.client, http::verb::delete_, ipath("projects/" + id), token, {}).status == 204);
    CHECK(f.server.integration_writes().back().method == "DELETE");
    CHECK(f.client.get(ipath("projects/" + id), token).status == 404);
}

TEST_CASE("fake_ditio: Integration API projects and tasks reach the extraction streams and take hours")
{
    running f;
    f.server.seed_streams(5, 1);
    auto core = f.client.token("ditioapiv3");
    auto reporting = f.client.token("reportingapiv1");
    auto before = f.server.live_count("project");
    auto p = post_project(
        f.client, core, "P-1001", R"(,"name":"Prosjekt Fjellhall","externalProjectNumber":"EXT-7")"
    );
    REQUIRE(p.status == 201);
    auto pid = str(p.json().at("id"));
    auto t =
        post_task(f.client, core, pid, "WO-001", R"(,"name":"Graving byggegrop","externalDim01":"Post 4")");
    REQUIRE(t.status == 201);
    auto tid = str(t.json().at("id"));
    CHECK(f.server.live_count("project") == before + 1);

    auto find = [](const std::vector<json::object>& records,
                   const std::string& id) -> std::optional<json::object> {
        for (const auto& r : records)
            if (str(r.at("id")) == id)
                return r;
        return std::nullopt;
    };
    auto projects = records_of(pages(f.client, reporting, "ModifiedSince=2000-01-01", "project"));
    auto project = find(projects, pid);
    REQUIRE(project);
    CHECK(str(project->at("number")) == "P-1001");
    CHECK(str(project->at("name")) == "Prosjekt Fjellhall");
    CHECK(str(project->at("externalNumber")) == "EXT-7");
    CHECK(str(project->at("companyId")) == own_company);
    CHECK_FALSE(project->at("active").as_bool());
    auto wbs =
        records_of(pages(f.client, reporting, "ModifiedSince=2000-01-01", "project/work-breakdown-structure")
        );
    auto task = find(wbs, tid);
    REQUIRE(task);
    CHECK(str(task->at("projectId")) == pid);
    CHECK(str(task->at("number")) == "WO-001");
    CHECK(str(task->at("name")) == "Graving byggegrop");
    CHECK(str(task->at("externalDim01")) == "Post 4");

    // A PATCH is a change in incremental mode, stamped with the write time.
    auto mark = str(project->at("modifiedDateTime"));
    REQUIRE(
        send_json(f.client, http::verb::patch, ipath("projects/" + pid), core, R"({"active":true})").status ==
        200
    );
    auto changed = records_of(pages(f.client, reporting, "ModifiedSince=" + mark, "project"));
    auto after = find(changed, pid);
    REQUIRE(after);
    CHECK(after->at("active").as_bool());
    CHECK(str(after->at("modifiedDateTime")) > mark);

    // Hours on the new work order, in time-registrations.
    auto hours = f.server.register_hours(pid, tid, 7.5, "2026-03-02");
    auto regs = records_of(pages(f.client, reporting, "FromDateTime=2026-03-01&ToDateTime=2026-03-31"));
    REQUIRE(regs.size() == 1);
    CHECK(str(regs[0].at("id")) == hours);
    CHECK(str(regs[0].at("projectId")) == pid);
    CHECK(str(regs[0].at("projectNumber")) == "P-1001");
    CHECK(str(regs[0].at("projectName")) == "Prosjekt Fjellhall");
    CHECK(str(regs[0].at("taskId")) == tid);
    CHECK(str(regs[0].at("taskName")) == "Graving byggegrop");
    CHECK(regs[0].at("qty").to_number<double>() == doctest::Approx(7.5));
    CHECK(str(regs[0].at("workDate")).rfind("2026-03-02", 0) == 0);
    CHECK_THROWS_AS(
        f.server.register_hours(pid, "000000000000000000000000", 1, "2026-03-02"), std::invalid_argument
    );

    // A task with hours cannot be deleted (deactivate instead); deleting the project cascades to tombstones.
    auto refused = send_json(f.client, http::verb::delete_, ipath("tasks/" + tid), core, {});
    CHECK(refused.status == 400);
    CHECK(f.server.integration_tasks().size() == 1);
    CHECK(send_json(f.client, http::verb::delete_, ipath("projects/" + pid), core, {}).status == 204);
    CHECK(f.server.integration_tasks().empty());
    CHECK(f.server.snapshot("project").at(pid).deleted);
    CHECK(f.server.snapshot("project/work-breakdown-structure").at(tid).deleted);
}

TEST_SUITE_END();

// Unit tests for app/capture.hpp (what `ditio-sync capture` writes, and what it removes) and the fake's
// replay of such a file (support/fake_replay.hpp). No socket.
#include "support/fake_replay.hpp"
#include "support/temp_dir.hpp"

#include <ditio_sync/app/capture.hpp>
#include <ditio_sync/util/redact.hpp>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <fstream>
#include <string>

namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using ditio_sync::app::capture_header;
using ditio_sync::app::capture_recorder;
using ditio_sync::testing::capture_replay;

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

ditio_sync::http::response answer(int status, std::string body, std::string content_type = "application/json")
{
    ditio_sync::http::response res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::set_cookie, "session=cookie-value-42");
    res.body() = std::move(body);
    return res;
}

ditio_sync::http::request get(std::string url, std::string token)
{
    return {
        .method = bhttp::verb::get, .url = std::move(url), .headers = {{"Authorization", "Bearer " + token}}};
}

// A capture of a token request and a time-registrations traversal of three pages, the third never asked.
capture_recorder sample_capture(const std::string& secret, const std::string& token)
{
    capture_recorder r(capture_header{
        .captured_at = "2026-12-06T10:00:00Z",
        .identity_base = "https://id.example",
        .reporting_base = "https://api.example/reporting",
        .api_base = "https://api.example/core",
        .streams = {"time-registrations"},
        .pages = 2,
        .chunk_limit = 2,
        .mode = "full"});
    ditio_sync::http::request token_req{
        .method = bhttp::verb::post,
        .url = "https://id.example/connect/token",
        .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
        .body =
            "grant_type=client_credentials&client_id=demo&client_secret=" + secret + "&scope=reportingapiv1"};
    r.record(
        token_req,
        answer(200, R"({"access_token":")" + token + R"(","expires_in":1800,"token_type":"Bearer"})"),
        std::chrono::milliseconds{12}
    );
    r.record(
        get("https://api.example/reporting/v1/time-registrations?ChunkLimit=2&FromDateTime=2020-01-01",
            token),
        answer(200, R"({"data":[{"id":"a"},{"id":"b"}],"continuationToken":"ct-1"})"),
        std::chrono::milliseconds{30}
    );
    r.record(
        get("https://api.example/reporting/v1/time-registrations?ContinuationToken=ct-1&ChunkLimit=2", token),
        answer(200, R"({"data":[{"id":"c"}],"continuationToken":"ct-2"})"),
        std::chrono::milliseconds{30}
    );
    return r;
}

} // namespace

TEST_SUITE_BEGIN("app");

TEST_CASE("capture: secrets, access tokens and cookies are removed; pages and continuation tokens stay")
{
    const std::string secret = "capture-secret-7f3a9";
    const std::string token = "eyJcapture.token.b4d2e1";
    ditio_sync::util::secrets().add_secret(secret);
    ditio_sync::util::secrets().add_token(token);
    auto r = sample_capture(secret, token);
    // A careless server echoing the secret inside an error body.
    r.record(
        get("https://api.example/reporting/v1/project", token),
        answer(500, "<html>upstream said client_secret " + secret + "</html>", "text/html"),
        std::chrono::milliseconds{5}
    );
    r.record(
        get("https://api.example/reporting/v1/users", token),
        boost::system::result<ditio_sync::http::response>(
            make_error_code(boost::system::errc::connection_reset)
        ),
        std::chrono::milliseconds{5}
    );
    CHECK(r.exchanges() == 5);
    auto text = json::serialize(r.document());
    CHECK_FALSE(contains(text, secret));
    CHECK_FALSE(contains(text, token));
    CHECK_FALSE(contains(text, "cookie-value-42"));
    CHECK(contains(text, "client_id=demo"));
    CHECK(contains(text, "client_secret=[redacted]"));
    CHECK(contains(text, R"(\"continuationToken\":\"ct-1\")"));
    CHECK(contains(text, "ContinuationToken=ct-1"));

    auto doc = json::parse(text).as_object();
    CHECK(doc.at("format").as_string() == "ditio-sync-capture");
    const auto& ex = doc.at("exchanges").as_array();
    REQUIRE(ex.size() == 5);
    CHECK(ex[0].at("status").as_int64() == 200);
    CHECK(json::parse(ex[0].at("body").as_string()).at("access_token").as_string() == "[redacted]");
    CHECK(ex[1].at("request_headers").as_array()[0].as_array()[1].as_string() == "[redacted]");
    CHECK(json::parse(ex[1].at("body").as_string()).at("data").as_array().size() == 2);
    CHECK(ex[3].at("status").as_int64() == 500);
    CHECK(ex[4].as_object().contains("error"));
    CHECK_FALSE(ex[4].as_object().contains("status"));
}

TEST_CASE("capture: a body that is not UTF-8 is kept byte for byte, in base64")
{
    capture_recorder r(capture_header{});
    r.record(
        get("https://api.example/x", "t0k3n-unused-here"),
        answer(502, std::string("\xff\xfe gateway \x80", 12), "text/plain"),
        std::chrono::milliseconds{1}
    );
    auto doc = json::parse(json::serialize(r.document())).as_object();
    const auto& e = doc.at("exchanges").as_array()[0].as_object();
    CHECK_FALSE(e.contains("body"));
    CHECK(e.at("body_base64").as_string() == "//4gZ2F0ZXdheSCA");
}

TEST_CASE("capture: replayed in order, cut where the capture ends, unknown requests a JSON 404")
{
    ditio_sync::testing::temp_dir dir;
    auto file = dir.path() / "capture.json";
    std::ofstream(file) << json::serialize(sample_capture("s3cret-for-replay", "tok-for-replay-1").document()
    );
    capture_replay replay(file);
    CHECK(replay.exchanges() == 3);

    // The daemon under replay may use other base paths: the tail of the path is matched.
    auto tok = replay.answer("POST", "/connect/token", {});
    CHECK(tok.status == 200);
    CHECK(json::parse(tok.body).at("access_token").as_string() == "replay-token");

    auto first = replay.answer("GET", "/reporting/v1/time-registrations", {{"chunklimit", "2"}});
    CHECK(first.status == 200);
    CHECK(json::parse(first.body).at("continuationToken").as_string() == "ct-1");
    bool json_type = false;
    for (const auto& [name, value] : first.headers)
        json_type = json_type || (name == "Content-Type" && value == "application/json");
    CHECK(json_type);

    // The second page's token was never followed in the capture: served as the last page.
    auto second = replay.answer("GET", "/v1/time-registrations", {{"continuationtoken", "ct-1"}});
    CHECK(json::parse(second.body).at("data").as_array().size() == 1);
    CHECK(json::parse(second.body).at("continuationToken").is_null());

    // Asked again beyond the capture: an empty last page, not the first page once more.
    auto again = replay.answer("GET", "/v1/time-registrations", {});
    CHECK(again.status == 200);
    CHECK(json::parse(again.body).at("data").as_array().empty());

    auto unknown = replay.answer("GET", "/v1/payroll-lines", {});
    CHECK(unknown.status == 404);
    CHECK(json::parse(unknown.body).at("error").as_string() == "NotInCapture");

    // The token endpoint answers again as it did.
    CHECK(replay.answer("POST", "/connect/token", {}).status == 200);
}

TEST_CASE("capture: the replay refuses a file that is not a capture, naming it")
{
    ditio_sync::testing::temp_dir dir;
    auto file = dir.path() / "not-a-capture.json";
    std::ofstream(file) << R"({"data":[]})";
    CHECK_THROWS_WITH_AS(capture_replay{file}, doctest::Contains("not-a-capture.json"), std::runtime_error);
}

TEST_SUITE_END();

// Unit tests for ditio/page.hpp (parse_page) and the free helpers of ditio/extraction_client.hpp
// (describe_error_body, is_ditio_error_body, parse_retry_after). No socket, no database.
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace {

namespace json = boost::json;
using ditio_sync::ditio::page;
using ditio_sync::ditio::parse_page;
using namespace std::chrono_literals;

// Parses `body`, requiring success.
page parse_ok(const std::string& body)
{
    page p;
    std::string why;
    bool ok = parse_page(body, p, why);
    REQUIRE_MESSAGE(ok, "parse_page failed: ", why);
    return p;
}

// The reason parse_page gives for rejecting `body` ("" when it accepts it).
std::string parse_failure(const std::string& body)
{
    page p;
    std::string why;
    if (parse_page(body, p, why))
        return {};
    REQUIRE_FALSE(why.empty());
    return why;
}

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_SUITE_BEGIN("ditio");

TEST_CASE("page: a valid envelope is parsed")
{
    auto p = parse_ok(R"({
        "data": [
            {"id": "a1", "modifiedDateTime": "2026-10-01T06:02:11.123Z", "isDeleted": false, "qty": 7.5},
            {"id": "a2", "modifiedDateTime": "2026-10-01T06:02:12Z", "isDeleted": true,
             "deletedDateTime": "2026-10-01T06:02:12Z"},
            {"id": "a3", "modifiedDateTime": "2026-10-01T06:02:13Z"}
        ],
        "links": {"next": "/v1/time-registrations?ContinuationToken=eyJwIjo1fQ"},
        "continuationToken": "eyJwIjo1fQ",
        "syncTypeName": "incremental",
        "recordCount": 3,
        "deletedRecordCount": 1
    })");
    REQUIRE(p.records.size() == 3);
    REQUIRE(p.continuation.has_value());
    CHECK(*p.continuation == "eyJwIjo1fQ");
    CHECK(p.sync_type == "incremental");
    CHECK(p.deleted == 1);

    const auto& r = p.records[0];
    CHECK(r.id == "a1");
    CHECK(r.modified == "2026-10-01T06:02:11.123Z");
    CHECK_FALSE(r.deleted);
    CHECK(r.deleted_at.empty());
    CHECK(r.change_key == ditio_sync::util::change_key("2026-10-01T06:02:11.123Z"));
    CHECK(r.change_key == "2026-10-01T06:02:11.123000Z");

    CHECK(p.records[1].id == "a2");
    CHECK(p.records[1].deleted);
    // A record without isDeleted is live.
    CHECK(p.records[2].id == "a3");
    CHECK_FALSE(p.records[2].deleted);
}

TEST_CASE("page: an absent, null or empty continuationToken means the end")
{
    SUBCASE("absent")
    {
        auto p = parse_ok(R"({"data": [], "syncTypeName": "full"})");
        CHECK_FALSE(p.continuation.has_value());
        CHECK(p.sync_type == "full");
        CHECK(p.records.empty());
    }
    SUBCASE("null")
    {
        CHECK_FALSE(parse_ok(R"({"data": [], "continuationToken": null})").continuation.has_value());
    }
    SUBCASE("empty string")
    {
        CHECK_FALSE(parse_ok(R"({"data": [], "continuationToken": ""})").continuation.has_value());
    }
    SUBCASE("a non-empty token is kept verbatim")
    {
        auto p = parse_ok(R"({"data": [], "continuationToken": "a+b/c=="})");
        REQUIRE(p.continuation.has_value());
        CHECK(*p.continuation == "a+b/c==");
        CHECK(p.sync_type.empty());
    }
}

TEST_CASE("page: a tombstone carries deleted, deleted_at and the later change key")
{
    SUBCASE("time-registration tombstone: modified equals the deletion time")
    {
        auto p = parse_ok(
            R"({"data": [{"id": "t1", "isDeleted": true, "deletedDateTime": "2026-10-02T08:00:00.25Z",
            "modifiedDateTime": "2026-10-02T08:00:00.25Z", "qty": null, "userName": null}]})"
        );
        REQUIRE(p.records.size() == 1);
        const auto& r = p.records[0];
        CHECK(r.deleted);
        CHECK(r.deleted_at == "2026-10-02T08:00:00.25Z");
        CHECK(r.change_key == "2026-10-02T08:00:00.250000Z");
        CHECK(p.deleted == 1);
    }
    SUBCASE("metadata tombstone: deletedDateTime later than modifiedDateTime wins")
    {
        auto p = parse_ok(R"({"data": [{"id": "p1", "isDeleted": true, "name": "Bridge",
            "modifiedDateTime": "2026-01-05T10:00:00Z", "deletedDateTime": "2026-03-01T12:30:00.5Z"}]})");
        const auto& r = p.records.at(0);
        CHECK(r.deleted);
        CHECK(r.modified == "2026-01-05T10:00:00Z");
        CHECK(r.deleted_at == "2026-03-01T12:30:00.5Z");
        CHECK(r.change_key == ditio_sync::util::change_key("2026-03-01T12:30:00.5Z"));
        CHECK(r.change_key > ditio_sync::util::change_key(r.modified));
    }
    SUBCASE("the later of the two wins even when modifiedDateTime is later")
    {
        auto p = parse_ok(R"({"data": [{"id": "p2", "isDeleted": true,
            "modifiedDateTime": "2026-03-02T00:00:00Z", "deletedDateTime": "2026-03-01T00:00:00Z"}]})");
        CHECK(p.records.at(0).change_key == "2026-03-02T00:00:00.000000Z");
    }
    SUBCASE("a live record's deletedDateTime does not count")
    {
        auto p = parse_ok(R"({"data": [{"id": "l1", "isDeleted": false,
            "modifiedDateTime": "2026-03-01T00:00:00Z", "deletedDateTime": "2027-01-01T00:00:00Z"}]})");
        CHECK_FALSE(p.records.at(0).deleted);
        CHECK(p.records.at(0).change_key == "2026-03-01T00:00:00.000000Z");
        CHECK(p.deleted == 0);
    }
    SUBCASE("offsets and seven-digit fractions are normalised")
    {
        auto p =
            parse_ok(R"({"data": [{"id": "o1", "modifiedDateTime": "2026-03-01T02:00:00.1234567+02:00"}]})");
        CHECK(p.records.at(0).change_key == "2026-03-01T00:00:00.123456Z");
        CHECK(p.records.at(0).modified == "2026-03-01T02:00:00.1234567+02:00"); // stored exactly as sent
    }
}

TEST_CASE("page: the record JSON keeps unknown fields and non-ASCII text")
{
    const std::string rec = R"({"id":"x1","modifiedDateTime":"2026-10-01T06:02:11Z","isDeleted":false,)"
                            R"("userName":"Bjørn Ødegård","description":"Støping av \"dekke\"\nakse 3",)"
                            R"("brandNewField":{"nested":[1,2.5,true,null]},"qty":7.5,"approved":true})";
    auto p = parse_ok(R"({"data":[)" + rec + "]}");
    REQUIRE(p.records.size() == 1);
    auto stored = json::parse(p.records[0].json);
    CHECK(stored == json::parse(rec));
    CHECK(stored.at("userName") == "Bjørn Ødegård");
    CHECK(stored.at("description") == "Støping av \"dekke\"\nakse 3");
    CHECK(stored.at("brandNewField").at("nested").as_array().size() == 4);
    // The stored text is raw UTF-8, not \u escapes, so sqlite's json_extract and humans read it alike.
    CHECK(contains(p.records[0].json, "Bjørn Ødegård"));
}

TEST_CASE("page: escaped identity fields are read unescaped; the stored JSON stays as sent")
{
    auto p =
        parse_ok(R"({"data":[{"id":"x\u00e6\"1","modifiedDateTime":"2026-10-01T06:02:11Z","isDeleted":true,)"
                 R"("deletedDateTime":"2026-10-0\u0031T06:02:12Z"}],"continuationToken":"t\/1"})");
    REQUIRE(p.records.size() == 1);
    const auto& r = p.records[0];
    CHECK(r.id == "x\xc3\xa6\"1");
    CHECK(r.modified == "2026-10-01T06:02:11Z");
    CHECK(r.deleted);
    CHECK(r.deleted_at == "2026-10-01T06:02:12Z");
    CHECK(r.change_key == "2026-10-01T06:02:12.000000Z");
    CHECK(contains(r.json, R"("id":"x\u00e6\"1")"));
    CHECK(p.continuation == "t/1");
}

TEST_CASE("page: a repeated key counts as its last value, as in a JSON document")
{
    auto p = parse_ok(R"({"data":[{"id":"a","isDeleted":true,"id":"b","isDeleted":"yes"},)"
                      R"({"id":"c","modifiedDateTime":"2026-10-01T06:02:11Z","modifiedDateTime":7}],)"
                      R"("continuationToken":"t1","continuationToken":null})");
    REQUIRE(p.records.size() == 2);
    CHECK(p.records[0].id == "b");
    CHECK_FALSE(p.records[0].deleted); // a string is not true
    CHECK(p.records[1].modified.empty());
    CHECK_FALSE(p.continuation.has_value());
}

TEST_CASE("page: malformed bodies are rejected with a reason")
{
    SUBCASE("not JSON")
    {
        CHECK(contains(parse_failure("this is not json"), "not JSON"));
    }
    SUBCASE("empty body")
    {
        CHECK(contains(parse_failure(""), "not JSON"));
    }
    SUBCASE("truncated JSON")
    {
        CHECK(
            contains(parse_failure(R"({"data":[{"id":"a1","modifiedDateTime":"2026-10-01T06:0)"), "not JSON")
        );
    }
    SUBCASE("HTML error page from a proxy")
    {
        CHECK(contains(parse_failure("<html><body><h1>502 Bad Gateway</h1></body></html>"), "not JSON"));
    }
    SUBCASE("top-level string")
    {
        CHECK(contains(parse_failure(R"("data")"), "not a JSON object"));
    }
    SUBCASE("top-level array")
    {
        CHECK(contains(parse_failure(R"([{"id":"a1"}])"), "not a JSON object"));
    }
    SUBCASE("no data")
    {
        CHECK(contains(parse_failure(R"({"continuationToken":null,"syncTypeName":"full"})"), "no data"));
    }
    SUBCASE("data not an array")
    {
        CHECK(contains(parse_failure(R"({"data":{"id":"a1"}})"), "data is not an array"));
    }
    SUBCASE("data null")
    {
        CHECK(contains(parse_failure(R"({"data":null})"), "data is not an array"));
    }
    SUBCASE("record not an object")
    {
        CHECK(contains(parse_failure(R"({"data":[{"id":"a1"},"a2"]})"), "record 1 is not an object"));
    }
    SUBCASE("record without id")
    {
        CHECK(contains(
            parse_failure(R"({"data":[{"id":"a1"},{"id":"a2"},{"modifiedDateTime":"x"}]})"),
            "record 2 has no id"
        ));
    }
    SUBCASE("record with an empty id")
    {
        CHECK(contains(parse_failure(R"({"data":[{"id":""}]})"), "record 0 has no id"));
    }
    SUBCASE("record with a numeric id")
    {
        CHECK(contains(parse_failure(R"({"data":[{"id":42}]})"), "record 0 has no id"));
    }
    SUBCASE("continuationToken a number")
    {
        CHECK(contains(parse_failure(R"({"data":[],"continuationToken":12})"), "continuationToken"));
    }
    SUBCASE("continuationToken an object")
    {
        CHECK(contains(parse_failure(R"({"data":[],"continuationToken":{}})"), "continuationToken"));
    }
    SUBCASE("the reason does not echo record content")
    {
        auto why = parse_failure(R"({"data":[{"secretish":"Bjørn Ødegård"}]})");
        CHECK_FALSE(contains(why, "Bjørn"));
    }
}

TEST_CASE("page: a failed parse leaves no records from an earlier page")
{
    page p = parse_ok(R"({"data":[{"id":"a1"}],"continuationToken":"t"})");
    std::string why;
    CHECK_FALSE(parse_page(R"({"data":[{"id":"b1"},{"nope":1}]})", p, why));
    // Whatever is left must not be mistaken for the old page's continuation.
    CHECK_FALSE(p.continuation.has_value());
}

TEST_CASE("extraction: describe_error_body turns Ditio's error bodies into one line")
{
    using ditio_sync::ditio::describe_error_body;
    SUBCASE("Ditio error and message")
    {
        auto s = describe_error_body(
            400, R"({"error":"InvalidContinuationToken","message":"The continuation token has expired."})"
        );
        CHECK(s == "HTTP 400 InvalidContinuationToken: The continuation token has expired.");
    }
    SUBCASE("v5 message with an errors list")
    {
        auto s = describe_error_body(
            422,
            R"({"message":"Validation failed","errors":[{"field":"Number","message":"Number is required"},)"
            R"({"message":"Name is too long"},"not an object",{"code":1}]})"
        );
        CHECK(s == "HTTP 422: Validation failed; Number is required; Name is too long");
    }
    SUBCASE("problem+json: its title and every message of its errors object")
    {
        auto s = describe_error_body(
            400,
            R"({"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1",)"
            R"("title":"One or more validation errors occurred.","status":400,)"
            R"("errors":{"ToDateTime":["The range is too long.","Another."],"x":[1]},"traceId":"00-ab"})"
        );
        CHECK(
            s == "HTTP 400: One or more validation errors occurred.; ToDateTime: The range is too long.; "
                 "ToDateTime: Another."
        );
    }
    SUBCASE("HTML body becomes a short excerpt on one line")
    {
        std::string html =
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\tnginx</body>\n</html>\n";
        auto s = describe_error_body(502, html);
        CHECK(s.rfind("HTTP 502: ", 0) == 0);
        CHECK(contains(s, "502 Bad Gateway"));
        CHECK(s.find('\n') == std::string::npos);
        CHECK(s.find('\r') == std::string::npos);
        CHECK(s.find('\t') == std::string::npos);
    }
    SUBCASE("a long body is cut")
    {
        auto s = describe_error_body(500, std::string(5000, 'x'));
        CHECK(s.size() < 300);
        CHECK(s.rfind("HTTP 500: xxx", 0) == 0);
    }
    SUBCASE("empty body")
    {
        CHECK(describe_error_body(503, "") == "HTTP 503");
    }
    SUBCASE("JSON without the known fields")
    {
        CHECK(describe_error_body(500, R"({"unexpected":true})") == "HTTP 500");
    }
    SUBCASE("a message of 50 MB is cut to 2 KB, and a token where it is cut leaves nothing of itself")
    {
        const std::string token = "straddling-token-" + std::string(200, 'k');
        ditio_sync::util::secrets().add_token(token);
        for (std::size_t at : {1900, 1990, 2000, 2040}) {
            CAPTURE(at);
            auto message = std::string(at, 'm') + token + std::string(50u << 20, 'm');
            auto s = describe_error_body(400, R"({"error":"BadRequest","message":")" + message + "\"}");
            CHECK(s.size() <= 2048);
            CHECK(contains(s, "bytes cut]"));
            CHECK_FALSE(contains(s, "stradd"));
        }
    }
}

TEST_CASE("extraction: is_ditio_error_body tells Ditio's JSON errors from other pages by shape")
{
    using ditio_sync::ditio::is_ditio_error_body;
    CHECK(is_ditio_error_body(R"({"error":"NotFound","message":"No such project"})"));
    CHECK(is_ditio_error_body(R"({"message":"x","errors":[{"message":"y"}]})"));
    CHECK(is_ditio_error_body(
        R"({"type":"https://tools.ietf.org/html/rfc9110#section-15.5.5","title":"Not Found","status":404})"
    ));
    CHECK_FALSE(is_ditio_error_body(""));
    CHECK_FALSE(is_ditio_error_body("<html><body><h1>404 Not Found</h1></body></html>"));
    CHECK_FALSE(is_ditio_error_body("Not Found"));
    CHECK_FALSE(is_ditio_error_body(R"(["not","an","object"])"));
    CHECK_FALSE(is_ditio_error_body(R"({"error":"cut off)"));
}

TEST_CASE("extraction: parse_retry_after reads seconds and HTTP dates")
{
    using ditio_sync::ditio::parse_retry_after;
    auto now = *ditio_sync::util::parse_http_date("Thu, 01 Oct 2026 06:00:00 GMT");

    CHECK(parse_retry_after("120", now) == std::chrono::milliseconds{120'000});
    CHECK(parse_retry_after("0", now) == std::chrono::milliseconds{0});
    CHECK(parse_retry_after("Thu, 01 Oct 2026 06:00:30 GMT", now) == std::chrono::milliseconds{30'000});
    CHECK(parse_retry_after("Thu, 01 Oct 2026 07:00:00 GMT", now) == std::chrono::milliseconds{3'600'000});
    // A date already past means "now", never a negative wait.
    CHECK(parse_retry_after("Thu, 01 Oct 2026 05:00:00 GMT", now) == std::chrono::milliseconds{0});
    // Sub-second "now" is honoured: the wait is measured from it, not from the whole second.
    CHECK(parse_retry_after("Thu, 01 Oct 2026 06:00:01 GMT", now + 250ms) == std::chrono::milliseconds{750});

    for (const std::string bad :
         {"", "soon", "-5", "1.5", "12s", " 12", "Thursday, 01-Oct-26 06:00:30 GMT"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_retry_after(bad, now).has_value());
    }
}

TEST_SUITE_END();

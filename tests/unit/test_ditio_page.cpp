// Unit tests for ditio/page.hpp (parse_page) and the free helpers of ditio/extraction_client.hpp
// (describe_error_body, is_ditio_error_body, parse_retry_after). No socket, no database.
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

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
    REQUIRE(p.records.size() == 1);
    CHECK(p.records[0].id == "b");
    CHECK_FALSE(p.records[0].deleted); // a string is not true
    // The last modifiedDateTime, a number, breaks the record contract.
    REQUIRE(p.quarantined.size() == 1);
    CHECK(p.quarantined[0].id == "c");
    CHECK(p.quarantined[0].reason == "modifiedDateTime is not a string");
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
    SUBCASE("record that is an array")
    {
        CHECK(contains(parse_failure(R"({"data":[{"id":"a1"},[{"id":"a2"}]]})"), "record 1 is not an object")
        );
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
        auto why = parse_failure(R"({"data":[{"id":"a1"},"Bjørn Ødegård"]})");
        CHECK_FALSE(contains(why, "Bjørn"));
    }
}

TEST_CASE("page: records that break the record contract are set aside with a reason, the rest parsed")
{
    auto p = parse_ok(R"({"data":[
        {"id":"good1","modifiedDateTime":"2026-10-01T06:02:11Z","qty":1},
        {"modifiedDateTime":"2026-10-01T06:02:11Z","name":"Bjørn Ødegård"},
        {"id":null,"modifiedDateTime":"2026-10-01T06:02:11Z"},
        {"id":42},
        {"id":""},
        {"id":{"x":1}},
        {"id":"bad-time","modifiedDateTime":"yesterday"},
        {"id":"num-time","modifiedDateTime":1700000000},
        {"id":"good2","modifiedDateTime":null},
        {"id":"good3","isDeleted":true,"deletedDateTime":"2026-10-02T00:00:00Z","modifiedDateTime":"2026-10-02T00:00:00Z"}
    ],"continuationToken":"next"})");
    REQUIRE(p.records.size() == 3);
    CHECK(p.records[0].id == "good1");
    CHECK(p.records[0].json == R"({"id":"good1","modifiedDateTime":"2026-10-01T06:02:11Z","qty":1})");
    CHECK(p.records[1].id == "good2"); // a null modifiedDateTime counts as absent, as before
    CHECK(p.records[2].id == "good3");
    CHECK(p.deleted == 1);
    CHECK(p.continuation == "next");
    REQUIRE(p.quarantined.size() == 7);
    std::vector<std::pair<std::size_t, std::string>> got;
    for (const auto& q : p.quarantined)
        got.emplace_back(q.index, q.reason);
    CHECK(
        got ==
        std::vector<std::pair<std::size_t, std::string>>{
            {1, "no id"},
            {2, "no id"},
            {3, "id is not a string"},
            {4, "id is empty"},
            {5, "id is not a string"},
            {6, "modifiedDateTime is not a date-time"},
            {7, "modifiedDateTime is not a string"}}
    );
    CHECK(p.quarantined[5].id == "bad-time");
    CHECK(p.quarantined[5].json == R"({"id":"bad-time","modifiedDateTime":"yesterday"})");
    CHECK(p.quarantined[0].id.empty());
    for (const auto& q : p.quarantined)
        CHECK_FALSE(contains(q.reason, "Bj"));
}

TEST_CASE("page: with a parent rule each record gets its parent reference")
{
    static constexpr std::array<std::string_view, 2> ids{"parentId", "parentRecordId"};
    static constexpr std::array<std::string_view, 2> context{"projectId", "taskId"};
    static constexpr ditio_sync::model::parent_rule rule{"source", ids, context};
    page p;
    std::string why;
    REQUIRE(parse_page(
        R"({"data":[
            {"id":"i1","source":"feed","parentId":"p1","projectId":"P"},
            {"id":"i1","source":"checklist","parentRecordId":"cæ1","projectId":"P"},
            {"id":"i2","source":"alert","parentId":"","projectId":"P","taskId":"T"},
            {"id":"i3","projectId":7},
            {"id":"i4","isDeleted":true,"source":null,"parentId":null}
        ]})",
        p,
        why,
        &rule
    ));
    REQUIRE(p.records.size() == 5);
    CHECK(p.records[0].parent == "feed:parentId=p1");
    CHECK_FALSE(p.records[0].parent_from_context);
    CHECK(p.records[1].parent == "checklist:parentRecordId=cæ1"); // unescaped, as json_extract gives it
    CHECK(p.records[2].parent == "alert:projectId=P;taskId=T");   // an empty id is no parent id
    CHECK(p.records[2].parent_from_context);
    CHECK(p.records[3].parent.empty()); // only string values count
    CHECK(p.records[3].parent_from_context);
    CHECK(p.records[4].parent.empty());
    // Without a rule (every other stream) nothing is read.
    auto plain = parse_ok(R"({"data":[{"id":"i1","source":"feed","parentId":"p1"}]})");
    CHECK(plain.records[0].parent.empty());
}

TEST_CASE("page: a failed parse leaves no records from an earlier page")
{
    page p = parse_ok(R"({"data":[{"id":"a1"}],"continuationToken":"t"})");
    std::string why;
    CHECK_FALSE(parse_page(R"({"data":[{"id":"b1"},"nope"]})", p, why));
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

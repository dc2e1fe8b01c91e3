// Unit tests for log/log.hpp: field formatting (JSON and text) and redaction of secret-named fields.
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/log/log.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>

namespace {

namespace json = boost::json;
namespace dlog = ditio_sync::log;
using ditio_sync::config::log_format;

// Parses a JSON-format message part as the object it becomes inside the log line's braces.
json::object parse_fragment(const std::string& fragment)
{
    boost::system::error_code ec;
    auto v = json::parse("{" + fragment + "}", ec);
    REQUIRE_MESSAGE(!ec, "not a JSON object fragment: ", fragment);
    REQUIRE(v.is_object());
    return v.get_object();
}

// A logger that writes only the message part into `out`, so tests see exactly what event() produced.
dlog::logger_ptr
capture_logger(std::ostringstream& out, spdlog::level::level_enum level = spdlog::level::trace)
{
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    auto lg = std::make_shared<spdlog::logger>("capture", sink);
    lg->set_pattern("%v");
    lg->set_level(level);
    return lg;
}

} // namespace

TEST_SUITE_BEGIN("log");

TEST_CASE("log: json fields form a valid object fragment")
{
    auto out = dlog::format_fields(
        log_format::json,
        "sync.page_done",
        {{"stream", "time-registrations"}, {"records", 5000}, {"ms", 130}, {"full", true}, {"ratio", 0.5}}
    );
    auto o = parse_fragment(out);
    CHECK(o.size() == 6);
    CHECK(o.at("event") == "sync.page_done");
    CHECK(o.at("stream") == "time-registrations");
    CHECK(o.at("records") == 5000);
    CHECK(o.at("ms") == 130);
    CHECK(o.at("full") == true);
    CHECK(o.at("ratio") == 0.5);
    // "event" comes first so a reader scanning lines sees it before the fields.
    CHECK(out.rfind("\"event\":\"sync.page_done\"", 0) == 0);
}

TEST_CASE("log: json escapes quotes, newlines, control characters and keeps non-ASCII")
{
    const std::string tricky = "say \"hi\"\nthen\ttab \\ back\x01slash";
    const std::string name = "Bjørn Ødegård";
    auto out = dlog::format_fields(
        log_format::json, "event \"quoted\"", {{"message", tricky}, {"user", name}, {"key \"odd\"", "v"}}
    );
    CHECK(out.find('\n') == std::string::npos); // one event, one line
    auto o = parse_fragment(out);
    CHECK(o.at("event") == "event \"quoted\"");
    CHECK(std::string(o.at("message").as_string()) == tricky);
    CHECK(std::string(o.at("user").as_string()) == name);
    CHECK(o.at("key \"odd\"") == "v");
}

TEST_CASE("log: json carries nested values and an empty field list")
{
    auto o = parse_fragment(dlog::format_fields(log_format::json, "app.started", {}));
    CHECK(o.size() == 1);
    CHECK(o.at("event") == "app.started");

    json::object fields{{"streams", json::array{"a", "b"}}, {"nothing", nullptr}};
    auto nested = parse_fragment(dlog::format_fields(log_format::json, "app.config", fields));
    CHECK(nested.at("streams") == json::array{"a", "b"});
    CHECK(nested.at("nothing").is_null());
}

TEST_CASE("log: text is `event key=value` with values quoted when needed")
{
    CHECK(
        dlog::format_fields(
            log_format::text, "sync.page_done", {{"stream", "time-registrations"}, {"records", 5000}}
        ) == "sync.page_done stream=time-registrations records=5000"
    );
    CHECK(dlog::format_fields(log_format::text, "app.started", {}) == "app.started");
    CHECK(
        dlog::format_fields(log_format::text, "e", {{"reason", "connection reset by peer"}}) ==
        "e reason=\"connection reset by peer\""
    );
    CHECK(dlog::format_fields(log_format::text, "e", {{"q", "a=b"}}) == "e q=\"a=b\"");
    CHECK(dlog::format_fields(log_format::text, "e", {{"q", "say \"x\""}}) == "e q=\"say \\\"x\\\"\"");
    CHECK(dlog::format_fields(log_format::text, "e", {{"q", "two\nlines"}}) == "e q=\"two\\nlines\"");
    CHECK(dlog::format_fields(log_format::text, "e", {{"q", ""}}) == "e q=\"\"");
    CHECK(dlog::format_fields(log_format::text, "e", {{"ok", true}, {"n", nullptr}}) == "e ok=true n=null");
    // Non-ASCII without spaces needs no quotes and stays readable.
    CHECK(dlog::format_fields(log_format::text, "e", {{"user", "Ødegård"}}) == "e user=Ødegård");
    CHECK(
        dlog::format_fields(log_format::text, "e", {{"user", "Bjørn Ødegård"}}) == "e user=\"Bjørn Ødegård\""
    );
}

TEST_CASE("log: is_secret_field recognises secret names in any case")
{
    for (const std::string name :
         {"authorization",
          "Authorization",
          "AUTHORIZATION",
          "proxy-authorization",
          "client_secret",
          "Client_Secret",
          "secret",
          "access_token",
          "Access_Token",
          "password",
          "PASSWORD",
          "db_password"}) {
        CAPTURE(name);
        CHECK(dlog::is_secret_field(name));
    }
    for (const std::string name :
         {"stream", "records", "event", "status", "error", "ms", "url", "client_id"}) {
        CAPTURE(name);
        CHECK_FALSE(dlog::is_secret_field(name));
    }
}

TEST_CASE("log: event redacts secret-named fields and keeps the others")
{
    std::ostringstream out;
    auto lg = capture_logger(out);
    dlog::event(
        lg,
        spdlog::level::info,
        "auth.refused",
        {{"client_secret", "hunter2-client-secret"},
         {"Authorization", "Bearer eyJhbGciOi.payload.sig"},
         {"access_token", "tok-0123456789abcdef"},
         {"password", "correct-horse-battery"},
         {"stream", "time-registrations"},
         {"records", 17}}
    );
    lg->flush();
    auto text = out.str();
    CHECK(text.find("auth.refused") != std::string::npos);
    CHECK(text.find("time-registrations") != std::string::npos);
    CHECK(text.find("17") != std::string::npos);
    CHECK(text.find("[redacted]") != std::string::npos);
    for (const std::string secret : {"hunter2", "eyJhbGciOi", "tok-0123456789abcdef", "correct-horse"}) {
        CAPTURE(secret);
        CHECK(text.find(secret) == std::string::npos);
    }
    // Each of the four secret fields is replaced, not dropped.
    std::size_t redactions = 0;
    for (auto pos = text.find("[redacted]"); pos != std::string::npos; pos = text.find("[redacted]", pos + 1))
        ++redactions;
    CHECK(redactions == 4);
}

TEST_CASE("log: event respects the logger level and a null logger")
{
    std::ostringstream out;
    auto lg = capture_logger(out, spdlog::level::warn);
    dlog::info(lg, "sync.next_run", {{"stream", "time-registrations"}});
    lg->flush();
    CHECK(out.str().empty());
    dlog::warn(lg, "http.retry", {{"stream", "time-registrations"}});
    lg->flush();
    CHECK(out.str().find("http.retry") != std::string::npos);

    dlog::event(nullptr, spdlog::level::err, "app.stopped", {{"password", "x"}}); // must not crash
}

TEST_SUITE_END();

// Unit tests for util/redact.hpp (the one redactor) and util/text.hpp (bounded excerpts, terminal escaping).
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <doctest/doctest.h>

#include <string>

namespace {

using ditio_sync::util::clip;
using ditio_sync::util::redactor;
using ditio_sync::util::terminal_safe;

bool contains(std::string_view haystack, std::string_view needle)
{
    return haystack.find(needle) != std::string_view::npos;
}

} // namespace

TEST_SUITE_BEGIN("util");

TEST_CASE("redact: a known secret goes, as written, URL-encoded and JSON-escaped")
{
    redactor r;
    const std::string secret = "s3cr3t+/\"value";
    r.add_secret(secret);
    for (const auto* text :
         {"error: s3cr3t+/\"value was refused",
          "body grant_type=client_credentials&x=s3cr3t%2B%2F%22value&scope=a",
          R"({"echo":"s3cr3t+/\"value"})"}) {
        CAPTURE(text);
        auto out = r.redact(text);
        CHECK_FALSE(contains(out, "s3cr3t"));
        CHECK(contains(out, "[redacted]"));
    }
    CHECK(r.redact("nothing to hide here") == "nothing to hide here");

    // The escapes other JSON writers use: \/ for /, \u002B for + (.NET), in either case of hex.
    redactor net;
    net.add_secret("ab/cd+ef<gh");
    for (const auto* text :
         {R"({"echo":"ab\/cd+ef<gh"})",
          R"({"echo":"ab\u002Fcd\u002Bef\u003Cgh"})",
          R"({"echo":"ab\u002fcd\u002bef\u003cgh"})",
          "form ab%2fcd%2bef%3cgh"}) {
        CAPTURE(text);
        CHECK_FALSE(contains(net.redact(text), "ab"));
    }
}

TEST_CASE("redact: tokens handed out go, the newest 64 of them")
{
    redactor r;
    for (int i = 0; i < 70; ++i)
        r.add_token("token-number-" + std::to_string(i) + "-abcdef");
    CHECK(r.redact("saw token-number-69-abcdef") == "saw [redacted]");
    CHECK(r.redact("saw token-number-6-abcdef") == "saw [redacted]");
    // The oldest are forgotten (they expired long ago); the bare pattern rules still apply to them.
    CHECK(r.redact("saw token-number-0-abcdef") == "saw token-number-0-abcdef");
}

TEST_CASE("redact: credentials nobody registered go by their shape, in any case")
{
    redactor r;
    struct example {
        const char* in;
        const char* gone;
    };
    for (auto [in, gone] : std::initializer_list<example>{
             {"client_secret=abc123&scope=x", "abc123"},
             {"CLIENT_SECRET = abc123", "abc123"},
             {R"({"client_secret":"abc123"})", "abc123"},
             {R"({"access_token": "eyJhbGciOi.payload.sig", "expires_in": 1800})", "eyJhbGciOi"},
             {"refresh_token=rt-1234", "rt-1234"},
             {"Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi"},
             {"authorization: bearer eyJhbGciOi.x.y", "eyJhbGciOi"},
             {"header was BEARER eyJhbGciOi.x.y!", "eyJhbGciOi"},
             {"Authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"},
             {"auth%3A+Bearer%20eyJhbGciOi.x.y", "eyJhbGciOi"},
             {"password: hunter2", "hunter2"},
             {"proxy http://alice:wonder@proxy.example:3128 refused", "alice:wonder"},
             {"https://user@host/path", "user@"},
             {R"({\"client_secret\":\"ab\/cd\u002Bef\"})", "cd"},
             {R"(client_secret=ab\/cd\u002Bef&x=1)", "u002Bef"},
         }) {
        CAPTURE(in);
        auto out = r.redact(in);
        CHECK_FALSE(contains(out, gone));
        CHECK(contains(out, "[redacted]"));
    }
    // What is not a credential stays, so the messages stay readable.
    for (const auto* keep :
         {"https://core-api.ditio.app/reporting/v1/time-registrations?ChunkLimit=5000",
          "continuationToken=abc",
          "the date range between FromDateTime and ToDateTime can be at most 7 days",
          "mailto:someone@example.com"}) {
        CAPTURE(keep);
        CHECK(r.redact(keep) == keep);
    }
}

TEST_CASE("redact: a text cut inside a known value loses that value's start too")
{
    redactor r;
    r.add_secret("abcdefghijklmnop");
    CHECK(r.redact("message ... abcdefgh", true) == "message ... [redacted]");
    CHECK(r.redact("message ... abcdefgh", false) == "message ... abcdefgh");
    CHECK(r.redact("ends with abc", true) == "ends with abc"); // too short to tell
}

TEST_CASE("redact: safe_excerpt bounds a 50 MB text to the excerpt and redacts across the cut")
{
    auto& r = ditio_sync::util::secrets();
    const std::string secret = "excerpt-secret-0123456789";
    r.add_secret(secret);
    std::string huge = "Bearer tok." + std::string(50u << 20, 'x');
    auto out = ditio_sync::util::safe_excerpt(huge, 2048);
    CHECK(out.size() <= 2048);
    CHECK(contains(out, "bytes cut]"));
    CHECK(out.starts_with("Bearer [redacted]"));

    // A secret straddling the end of what is scanned is not shown in part, even when redaction shortened the
    // text before it so much that the cut lands within what is kept.
    const std::string token(1000, 'T');
    r.add_token(token);
    std::string edge = token + token + token + token + token + token + std::string(134, 'y') + secret +
                       std::string(100, 'z');
    REQUIRE(edge.find(secret) == 2048 + 4096 - 10);
    auto cut = ditio_sync::util::safe_excerpt(edge, 2048);
    CHECK(cut.size() < 400);
    CHECK(contains(cut, std::string(134, 'y')));
    CHECK_FALSE(contains(cut, "excerpt-se"));
}

TEST_CASE("text: clip keeps short text, cuts long text at a character boundary and says so")
{
    CHECK(clip("short", 100) == "short");
    std::string text = std::string(90, 'a') + "ø" + std::string(100, 'b'); // ø is two bytes
    auto out = clip(text, 92 + 40);
    CHECK(out.size() <= 132);
    CHECK(out.starts_with(std::string(90, 'a')));
    CHECK(contains(out, "bytes cut]"));
    // Never half of the two bytes of ø.
    auto at = out.find(" [...");
    CHECK((at == 90 || at == 92));
    CHECK(clip("abc", 100, 5000) != "abc"); // cut from a longer text by the caller
}

TEST_CASE("text: terminal_safe writes out control characters and keeps printable UTF-8")
{
    CHECK(terminal_safe("plain text, æøå ÆØÅ") == "plain text, æøå ÆØÅ");
    CHECK(terminal_safe("a\nb\rc\td") == "a\\nb\\rc\\td");
    CHECK(terminal_safe("\x1b[2J\x1b]0;owned\x07") == "\\x1b[2J\\x1b]0;owned\\x07");
    CHECK(terminal_safe("del\x7f") == "del\\x7f");
    CHECK(terminal_safe("back\\slash") == "back\\\\slash");
    CHECK(
        terminal_safe("c1 \xc2\x9b"
                      "31m") == "c1 \\u009b31m"
    ); // CSI as a C1 control
    CHECK(
        terminal_safe("bidi \xe2\x80\xae"
                      "txt") == "bidi \\u202etxt"
    );
    CHECK(terminal_safe("bad \xff\xfe utf8") == "bad \\xff\\xfe utf8");
    CHECK(terminal_safe("cut \xe2\x82") == "cut \\xe2\\x82");
}

TEST_SUITE_END();

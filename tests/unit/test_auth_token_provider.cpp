// Unit tests for auth/token_provider.hpp against the in-process fake Ditio over TLS: caching, the refresh
// margin (driven by a manual clock), single flight, invalidation and the refusal / outage paths.
#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/util/clock.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <support/fake_ditio.hpp>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace auth = ditio_sync::auth;
namespace dt = ditio_sync::testing;
using namespace std::chrono_literals;
using token_result = boost::system::result<std::string>;

// One PKI per test process, removed at exit.
const dt::test_pki& pki()
{
    return dt::process_test_pki();
}

dt::fake_options server_options()
{
    dt::fake_options o;
    o.tls = true;
    o.cert_file = pki().server_cert;
    o.key_file = pki().server_key;
    return o;
}

// A fake Ditio, a client that trusts its CA, and a token provider on a manual clock. The logs of the
// client and the provider are captured so tests can check that no secret or token reaches them.
struct harness {
    explicit harness(
        dt::fake_options server_opts = server_options(),
        std::string secret = "demo-secret",
        std::string scope = "reportingapiv1 ditioapiv3",
        std::vector<auth::scope_need> needs = {}
    )
        : server(std::move(server_opts)), logger(make_logger(log_text)),
          http(ioc.get_executor(), client_options(), logger),
          tokens(http, settings(std::move(secret), std::move(scope), std::move(needs)), clock, logger)
    {
    }

    // Runs one coroutine to completion on the test's io_context.
    token_result run(asio::awaitable<token_result> body)
    {
        auto fut = asio::co_spawn(ioc, std::move(body), asio::use_future);
        ioc.run();
        ioc.restart();
        return fut.get();
    }

    token_result get(std::string* detail = nullptr) { return run(tokens.token(detail)); }

    std::uint64_t token_requests() const { return server.stats().token_requests; }

    static std::shared_ptr<spdlog::logger> make_logger(std::ostringstream& out)
    {
        auto lg = std::make_shared<spdlog::logger>(
            "auth-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)
        );
        lg->set_pattern("%v");
        lg->set_level(spdlog::level::trace);
        return lg;
    }

    static ditio_sync::http::client_options client_options()
    {
        ditio_sync::http::client_options o;
        o.ca_file = pki().ca_cert.string();
        o.timeout = 10s;
        return o;
    }

    auth::token_settings settings(std::string secret, std::string scope, std::vector<auth::scope_need> needs)
    {
        server.start();
        return {server.base_url(), "demo-client", std::move(secret), std::move(scope), std::move(needs)};
    }

    dt::fake_ditio server;
    std::ostringstream log_text;
    std::shared_ptr<spdlog::logger> logger;
    asio::io_context ioc;
    ditio_sync::util::manual_clock clock;
    ditio_sync::http::client http;
    auth::token_provider tokens;
};

} // namespace

TEST_SUITE_BEGIN("auth");

TEST_CASE("token_provider: the first call fetches a token, the next ones reuse it")
{
    harness h;
    auto first = h.get();
    REQUIRE(first.has_value());
    CHECK_FALSE(first->empty());
    CHECK(h.token_requests() == 1);
    auto issued = h.server.issued_tokens();
    REQUIRE(issued.size() == 1);
    CHECK(issued[0] == *first);

    auto second = h.get();
    REQUIRE(second.has_value());
    CHECK(*second == *first);
    CHECK(h.token_requests() == 1);
    CHECK(h.tokens.refreshes() == 1);

    // The token is never written to the logs.
    h.logger->flush();
    CHECK(h.log_text.str().find(*first) == std::string::npos);
}

TEST_CASE("token_provider: refreshes once the expiry is within the margin")
{
    SUBCASE("a long lifetime uses the 60 s margin")
    {
        harness h; // the fake issues tokens for 1800 s
        auto first = h.get();
        REQUIRE(first.has_value());

        h.clock.advance(1800s - 60s - 1s);
        auto still = h.get();
        REQUIRE(still.has_value());
        CHECK(*still == *first);
        CHECK(h.token_requests() == 1);

        h.clock.advance(1s); // now exactly expiry minus margin: no longer fresh
        auto renewed = h.get();
        REQUIRE(renewed.has_value());
        CHECK(*renewed != *first);
        CHECK(h.token_requests() == 2);

        auto cached = h.get();
        REQUIRE(cached.has_value());
        CHECK(*cached == *renewed);
        CHECK(h.token_requests() == 2);
    }
    SUBCASE("a short lifetime uses a quarter of it")
    {
        auto opts = server_options();
        opts.token_lifetime = 120s; // margin min(60 s, 30 s) = 30 s
        harness h(opts);
        auto first = h.get();
        REQUIRE(first.has_value());

        h.clock.advance(89s);
        CHECK(h.get().value() == *first);
        CHECK(h.token_requests() == 1);

        h.clock.advance(1s);
        CHECK(h.get().value() != *first);
        CHECK(h.token_requests() == 2);
    }
}

TEST_CASE("token_provider: concurrent callers share one refresh")
{
    harness h;
    std::vector<std::future<token_result>> futures;
    for (int i = 0; i < 5; ++i)
        futures.push_back(asio::co_spawn(h.ioc, h.tokens.token(), asio::use_future));
    h.ioc.run();
    h.ioc.restart();

    std::vector<std::string> got;
    for (auto& f : futures) {
        auto r = f.get();
        REQUIRE(r.has_value());
        got.push_back(*r);
    }
    CHECK(h.token_requests() == 1);
    CHECK(h.tokens.refreshes() == 1);
    for (const auto& t : got)
        CHECK(t == got.front());

    SUBCASE("and share the refresh again when the token has aged")
    {
        h.clock.advance(1800s);
        futures.clear();
        for (int i = 0; i < 5; ++i)
            futures.push_back(asio::co_spawn(h.ioc, h.tokens.token(), asio::use_future));
        h.ioc.run();
        h.ioc.restart();
        std::vector<std::string> again;
        for (auto& f : futures)
            again.push_back(f.get().value());
        CHECK(h.token_requests() == 2);
        for (const auto& t : again) {
            CHECK(t == again.front());
            CHECK(t != got.front());
        }
    }
}

TEST_CASE("token_provider: invalidate drops the rejected token only")
{
    harness h;
    auto first = h.get().value();

    h.tokens.invalidate("some-older-token");
    CHECK(h.get().value() == first);
    CHECK(h.token_requests() == 1);

    h.tokens.invalidate(first);
    auto second = h.get().value();
    CHECK(second != first);
    CHECK(h.token_requests() == 2);
    CHECK(h.get().value() == second);
    CHECK(h.token_requests() == 2);
}

TEST_CASE("token_provider: a wrong secret is refused once, with advice and without the secret")
{
    const std::string wrong = "wrong-s3cr3t-value";
    harness h(server_options(), wrong);
    std::string detail;
    auto r = h.get(&detail);
    REQUIRE(r.has_error());
    CHECK(r.error() == auth::errc::refused);
    CHECK(detail.find("client_id") != std::string::npos);
    CHECK(detail.find("secret") != std::string::npos);
    CHECK(detail.find(wrong) == std::string::npos);
    CHECK(h.token_requests() == 1); // no retry loop
    CHECK(h.tokens.refreshes() == 0);

    h.logger->flush();
    CHECK(h.log_text.str().find(wrong) == std::string::npos);

    SUBCASE("concurrent callers all get the refusal from one request")
    {
        std::vector<std::string> details(5);
        std::vector<std::future<token_result>> futures;
        for (auto& d : details)
            futures.push_back(asio::co_spawn(h.ioc, h.tokens.token(&d), asio::use_future));
        h.ioc.run();
        h.ioc.restart();
        for (std::size_t i = 0; i < futures.size(); ++i) {
            auto one = futures[i].get();
            REQUIRE(one.has_error());
            CHECK(one.error() == auth::errc::refused);
            CHECK(details[i].find("client_id") != std::string::npos);
        }
        CHECK(h.token_requests() == 2);
    }
}

TEST_CASE("token_provider: a scope the client may not request is refused, naming the scope")
{
    harness h(server_options(), "demo-secret", "reportingapiv1 adminapiv9");
    std::string detail;
    auto r = h.get(&detail);
    REQUIRE(r.has_error());
    CHECK(r.error() == auth::errc::refused);
    CHECK(detail.find("scope") != std::string::npos);
    CHECK(h.token_requests() == 1);
}

namespace {

const std::vector<auth::scope_need> both_features{{"reportingapiv1", "streams"}, {"ditioapiv3", "push"}};

std::size_t count_of(const std::string& text, const std::string& part)
{
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("token_provider: scopes follow the features whatever the identity server answers")
{
    auto o = server_options();
    SUBCASE("every scope granted: one request, both features on")
    {
        harness h(o, "demo-secret", "", both_features);
        REQUIRE(h.get().has_value());
        CHECK(h.token_requests() == 1);
        CHECK_FALSE(h.tokens.lacks("reportingapiv1"));
        CHECK_FALSE(h.tokens.lacks("ditioapiv3"));
        h.logger->flush();
        CHECK(h.log_text.str().find("auth.feature_off") == std::string::npos);
    }
    SUBCASE("invalid_scope for both together: each alone, push off, said once")
    {
        o.allowed_scopes = {"reportingapiv1"};
        harness h(o, "demo-secret", "", both_features);
        REQUIRE(h.get().has_value());
        CHECK(h.token_requests() == 3); // together, then each alone
        CHECK_FALSE(h.tokens.lacks("reportingapiv1"));
        CHECK(h.tokens.lacks("ditioapiv3"));
        auto features = h.tokens.features();
        REQUIRE(features.size() == 2);
        CHECK(features[0].on);
        CHECK_FALSE(features[1].on);
        CHECK(features[1].reason.find("invalid_scope") != std::string::npos);
        // A later refresh asks only for what was granted, and says nothing again.
        h.tokens.invalidate(*h.get());
        REQUIRE(h.get().has_value());
        CHECK(h.token_requests() == 4);
        h.logger->flush();
        CHECK(count_of(h.log_text.str(), "auth.feature_off") == 1);
    }
    SUBCASE("a narrowed token: its scope field says what was granted")
    {
        o.allowed_scopes = {"reportingapiv1"};
        o.narrow_scopes = true;
        harness h(o, "demo-secret", "", both_features);
        REQUIRE(h.get().has_value());
        CHECK(h.token_requests() == 1);
        CHECK(h.tokens.lacks("ditioapiv3"));
        CHECK(h.tokens.granted_text() == "reportingapiv1");
    }
    SUBCASE("no scope field: what was asked for is taken as granted")
    {
        o.omit_scope_field = true;
        harness h(o, "demo-secret", "", both_features);
        REQUIRE(h.get().has_value());
        CHECK_FALSE(h.tokens.lacks("ditioapiv3"));
        CHECK(h.tokens.granted_text() == "reportingapiv1 ditioapiv3");
    }
    SUBCASE("no feature's scope granted: refused, naming the scopes tried")
    {
        o.allowed_scopes = {"masstransportapiv1"};
        harness h(o, "demo-secret", "", both_features);
        std::string detail;
        auto r = h.get(&detail);
        REQUIRE(r.has_error());
        CHECK(r.error() == auth::errc::refused);
        CHECK(detail.find("reportingapiv1 ditioapiv3") != std::string::npos);
    }
    SUBCASE("an explicit ditio.scope is asked for as written, never split")
    {
        o.allowed_scopes = {"reportingapiv1"};
        harness h(o, "demo-secret", "reportingapiv1 ditioapiv3", both_features);
        auto r = h.get();
        REQUIRE(r.has_error());
        CHECK(r.error() == auth::errc::refused);
        CHECK(h.token_requests() == 1);
    }
    SUBCASE("an explicit ditio.scope without a feature's scope: that feature is off")
    {
        harness h(o, "demo-secret", "reportingapiv1", both_features);
        REQUIRE(h.get().has_value());
        CHECK(h.tokens.lacks("ditioapiv3"));
        CHECK(h.tokens.features()[1].reason.find("ditio.scope") != std::string::npos);
    }
}

TEST_CASE("token_provider: a 503 from the token endpoint is unavailable, and the next call recovers")
{
    harness h;
    dt::fault f;
    f.what = dt::fault::kind::status;
    f.path_suffix = "/connect/token";
    f.status = 503;
    h.server.inject(f);

    std::string detail;
    auto r = h.get(&detail);
    REQUIRE(r.has_error());
    CHECK(r.error() == auth::errc::unavailable);
    CHECK(detail.find("503") != std::string::npos);
    CHECK(h.token_requests() == 1);

    auto ok = h.get();
    REQUIRE(ok.has_value());
    CHECK(h.token_requests() == 2);
}

TEST_CASE("token_provider: expires_in of 1e300, -5 or a string is clamped to a second .. a day")
{
    auto answer = [](std::string expires_in) {
        dt::fault f;
        f.what = dt::fault::kind::status;
        f.path_suffix = "/connect/token";
        f.status = 200;
        f.count = 1;
        f.body =
            R"({"access_token":"clamped-token-1","token_type":"Bearer","expires_in":)" + expires_in + "}";
        return f;
    };
    SUBCASE("1e300: a day")
    {
        harness h;
        h.server.inject(answer("1e300"));
        REQUIRE(h.get().value() == "clamped-token-1");
        h.clock.advance(std::chrono::hours{24} - 61s);
        CHECK(h.get().has_value());
        CHECK(h.token_requests() == 1);
        h.clock.advance(2s); // within the one-minute margin of a day
        CHECK(h.get().has_value());
        CHECK(h.token_requests() == 2);
    }
    SUBCASE("18446744073709551615 (beyond int64): a day")
    {
        harness h;
        h.server.inject(answer("18446744073709551615"));
        REQUIRE(h.get().has_value());
        h.clock.advance(std::chrono::hours{25});
        CHECK(h.get().has_value());
        CHECK(h.token_requests() == 2);
    }
    SUBCASE("-5 and -1e300: a second")
    {
        for (const auto* value : {"-5", "-1e300"}) {
            CAPTURE(value);
            harness h;
            h.server.inject(answer(value));
            REQUIRE(h.get().has_value());
            h.clock.advance(1s);
            CHECK(h.get().has_value());
            CHECK(h.token_requests() == 2);
        }
    }
    SUBCASE("a string: Ditio's documented 1800 s")
    {
        harness h;
        h.server.inject(answer(R"("soon")"));
        REQUIRE(h.get().has_value());
        h.clock.advance(1800s - 61s);
        CHECK(h.get().has_value());
        CHECK(h.token_requests() == 1);
    }
}

TEST_CASE("token_provider: an identity server that echoes the request in its error leaks no secret")
{
    for (int status : {400, 401, 500}) {
        for (const auto* shape : {"json", "html"}) {
            CAPTURE(status);
            CAPTURE(shape);
            harness h(server_options(), "echoed-s3cret-Value");
            dt::fault f;
            f.what = dt::fault::kind::echo;
            f.path_suffix = "/connect/token";
            f.status = status;
            f.body = shape;
            h.server.inject(f);
            std::string detail;
            auto t = h.get(&detail);
            CHECK_FALSE(t.has_value());
            CHECK_FALSE(detail.empty());
            CHECK(detail.find("echoed-s3cret") == std::string::npos);
            CHECK(h.log_text.str().find("echoed-s3cret") == std::string::npos);
            CHECK(detail.find("s3cret") == std::string::npos);
        }
    }
}

TEST_SUITE_END();

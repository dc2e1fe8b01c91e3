// util/net.hpp: URL splitting and host predicates, including the cases Boost.URL 1.81 gets wrong.
#include <ditio_sync/util/net.hpp>

#include <doctest/doctest.h>

using namespace ditio_sync;

TEST_SUITE_BEGIN("util");

TEST_CASE("net: split_url takes scheme, host, port and target")
{
    auto u = util::split_url("https://Core-API.ditio.app:8443/reporting?x=1");
    REQUIRE(u);
    CHECK(u->scheme == "https");
    CHECK(u->host == "core-api.ditio.app");
    CHECK(u->port == "8443");
    CHECK(u->target == "/reporting?x=1");

    auto bare = util::split_url("http://127.0.0.1");
    REQUIRE(bare);
    CHECK(bare->port.empty());
    CHECK(bare->target == "/");

    auto v6 = util::split_url("https://[::1]:9000/core");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "9000");
    CHECK(v6->target == "/core");
}

TEST_CASE("net: split_url keeps a host that starts like an IPv4 address whole")
{
    auto u = util::split_url("http://127.0.0.1.example.com/reporting");
    REQUIRE(u);
    CHECK(u->host == "127.0.0.1.example.com");
    CHECK(u->target == "/reporting");
    CHECK_FALSE(util::is_loopback_host(u->host));
}

TEST_CASE("net: split_url refuses what is not an http(s) URL")
{
    for (const char* bad :
         {"",
          "core-api.ditio.app",
          "ftp://x/",
          "https://",
          "https://:443/",
          "https://a b/",
          "https://user@host/",
          "https://host/#frag",
          "https://host:0/",
          "https://host:65536/",
          "https://host:12a/",
          "https://[::1/",
          "https://[zz]/",
          "https://.host/"}) {
        CAPTURE(bad);
        CHECK_FALSE(util::split_url(bad));
    }
}

TEST_CASE("net: loopback and IP literals")
{
    for (const char* h : {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"}) {
        CAPTURE(h);
        CHECK(util::is_loopback_host(h));
    }
    for (const char* h : {"127.0.0.1.example.com", "10.0.0.1", "example.org", "localhost.example.org", ""}) {
        CAPTURE(h);
        CHECK_FALSE(util::is_loopback_host(h));
    }
    CHECK(util::is_ip_literal("10.0.0.1"));
    CHECK(util::is_ip_literal("[fe80::1]"));
    CHECK_FALSE(util::is_ip_literal("identity.ditio.app"));
}

TEST_SUITE_END();

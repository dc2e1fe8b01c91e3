// http::client against the fake Ditio server on loopback: keep-alive reuse, reconnection, deadlines, the
// body limit, certificate verification, cancellation, and HTTPS through a CONNECT proxy.
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <optional>
#include <support/fake_ditio.hpp>
#include <support/run_io.hpp>

using namespace ditio_sync;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using ditio_sync::testing::run_io;

// One PKI per test process, removed at exit.
const testing::test_pki& pki()
{
    return testing::process_test_pki();
}

std::unique_ptr<testing::fake_ditio> start_server()
{
    testing::fake_options o;
    o.cert_file = pki().server_cert;
    o.key_file = pki().server_key;
    auto s = std::make_unique<testing::fake_ditio>(o);
    s->start();
    return s;
}

http::client_options trusting_options()
{
    http::client_options o;
    o.ca_file = pki().ca_cert.string();
    o.timeout = std::chrono::seconds{5};
    return o;
}

// A minimal HTTP CONNECT proxy on loopback that counts the tunnels it opened.
class connect_proxy {
public:
    explicit connect_proxy(asio::io_context& io)
        : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))
    {
        asio::co_spawn(io, accept_loop(), asio::detached);
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    int tunnels() const { return tunnels_; }
    std::string last_target() const { return last_target_; }
    void close() { acceptor_.close(); }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(util::use_nothrow);
            if (ec)
                co_return;
            asio::co_spawn(acceptor_.get_executor(), tunnel(std::move(sock)), asio::detached);
        }
    }
    static asio::awaitable<void> pipe(tcp::socket& from, tcp::socket& to)
    {
        std::array<char, 16384> buf{};
        for (;;) {
            auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), util::use_nothrow);
            if (ec)
                break;
            auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), util::use_nothrow);
            if (wec)
                break;
        }
        boost::system::error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
    }
    asio::awaitable<void> tunnel(tcp::socket client)
    {
        std::string head;
        auto [ec, n] = co_await asio::async_read_until(
            client, asio::dynamic_buffer(head), "\r\n\r\n", util::use_nothrow
        );
        if (ec || !head.starts_with("CONNECT "))
            co_return;
        auto target = head.substr(8, head.find(' ', 8) - 8);
        last_target_ = target;
        auto colon = target.rfind(':');
        tcp::resolver resolver(client.get_executor());
        auto endpoints = co_await resolver.async_resolve(
            target.substr(0, colon), target.substr(colon + 1), asio::use_awaitable
        );
        tcp::socket upstream(client.get_executor());
        co_await asio::async_connect(upstream, endpoints, asio::use_awaitable);
        ++tunnels_;
        std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
        co_await asio::async_write(client, asio::buffer(ok), asio::use_awaitable);
        // Bytes already read past the header belong to the TLS handshake.
        if (head.size() > n)
            co_await asio::async_write(
                upstream, asio::buffer(head.data() + n, head.size() - n), asio::use_awaitable
            );
        auto ex = client.get_executor();
        auto c = std::make_shared<tcp::socket>(std::move(client));
        auto u = std::make_shared<tcp::socket>(std::move(upstream));
        asio::co_spawn(
            ex, [c, u]() -> asio::awaitable<void> { co_await pipe(*c, *u); }, asio::detached
        );
        co_await pipe(*u, *c);
    }

    tcp::acceptor acceptor_;
    int tunnels_ = 0;
    std::string last_target_;
};

http::request get(const std::string& url)
{
    http::request r;
    r.url = url;
    return r;
}

} // namespace

TEST_SUITE_BEGIN("http");

TEST_CASE("http client: requests reuse one keep-alive connection")
{
    auto server = start_server();
    asio::io_context io;
    http::client client(io.get_executor(), trusting_options(), log::get("http"));
    auto statuses = run_io(io, [&]() -> asio::awaitable<std::vector<unsigned>> {
        std::vector<unsigned> out;
        for (int i = 0; i < 3; ++i) {
            auto r = co_await client.send(get(server->base_url() + "/reporting/v1/time-registrations"));
            out.push_back(r ? r->result_int() : 0);
        }
        co_return out;
    }());
    CHECK(statuses == std::vector<unsigned>{401, 401, 401});
    CHECK(client.connections_opened() == 1);
    CHECK(server->stats().connections_accepted == 1);
}

TEST_CASE("http client: reconnects when the server has closed the kept-alive connection")
{
    auto server = start_server();
    server->set_max_requests_per_connection(1);
    asio::io_context io;
    http::client client(io.get_executor(), trusting_options(), log::get("http"));
    auto ok = run_io(io, [&]() -> asio::awaitable<int> {
        int n = 0;
        for (int i = 0; i < 3; ++i)
            if (auto r = co_await client.send(get(server->base_url() + "/v1/time-registrations")); r)
                ++n;
        co_return n;
    }());
    CHECK(ok == 3);
    CHECK(client.connections_opened() == 3);
}

TEST_CASE("http client: a POST whose reused connection drops unanswered is not sent again; a GET is")
{
    auto server = start_server();
    asio::io_context io;
    http::client client(io.get_executor(), trusting_options(), log::get("http"));
    auto token_post = [&](bool resend_allowed) {
        http::request r;
        r.method = boost::beast::http::verb::post;
        r.url = server->base_url() + "/connect/token";
        r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
        r.body = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope="
                 "reportingapiv1";
        r.resend_allowed = resend_allowed;
        return r;
    };
    testing::fault drop;
    drop.what = testing::fault::kind::reset_after; // the server acts, then the connection is gone
    auto outcomes = run_io(io, [&]() -> asio::awaitable<std::vector<int>> {
        std::vector<int> out;
        auto warm = co_await client.send(get(server->base_url() + "/v1/time-registrations"));
        out.push_back(warm ? warm->result_int() : 0);
        // A POST on the reused connection: its fate is unknown, so it is the caller's to find out.
        drop.path_suffix = "/connect/token";
        server->inject(drop);
        auto post = co_await client.send(token_post(false));
        out.push_back(post ? post->result_int() : 0);
        out.push_back(static_cast<int>(server->stats().token_requests));
        // One that says it may be sent twice (a token request) is sent again on a fresh connection.
        co_await client.send(get(server->base_url() + "/v1/time-registrations"));
        server->inject(drop);
        auto again = co_await client.send(token_post(true));
        out.push_back(again ? again->result_int() : 0);
        out.push_back(static_cast<int>(server->stats().token_requests));
        // A GET is idempotent: sent again.
        drop.path_suffix = "/v1/time-registrations";
        server->inject(drop);
        auto get_again = co_await client.send(get(server->base_url() + "/v1/time-registrations"));
        out.push_back(get_again ? get_again->result_int() : 0);
        co_return out;
    }());
    CHECK(outcomes[0] == 401);
    CHECK(outcomes[1] == 0);     // failed, not repeated
    CHECK(outcomes[2] == 1);     // one POST reached the server
    CHECK(outcomes[3] == 200);   // the resend-allowed POST was repeated and answered
    CHECK(outcomes[4] == 1 + 2); // ... so it reached the server twice
    CHECK(outcomes[5] == 401);   // the GET was repeated and answered
}

TEST_CASE("http client: a response slower than the deadline fails as a timeout")
{
    auto server = start_server();
    testing::fault slow;
    slow.what = testing::fault::kind::delay;
    slow.delay = std::chrono::seconds{3};
    server->inject(slow);
    asio::io_context io;
    auto o = trusting_options();
    o.timeout = std::chrono::milliseconds{300};
    http::client client(io.get_executor(), o, log::get("http"));
    auto started = std::chrono::steady_clock::now();
    auto r = run_io(io, client.send(get(server->base_url() + "/v1/time-registrations")));
    REQUIRE(!r.has_value());
    CHECK(http::classify(r.error()) == http::error_kind::timeout);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{2});
}

TEST_CASE("http client: a body over the limit is refused")
{
    auto server = start_server();
    testing::fault big;
    big.status = 200;
    big.body = std::string(20000, 'x');
    server->inject(big);
    asio::io_context io;
    auto o = trusting_options();
    o.max_body_bytes = 1000;
    http::client client(io.get_executor(), o, log::get("http"));
    auto r = run_io(io, client.send(get(server->base_url() + "/v1/time-registrations")));
    REQUIRE(!r.has_value());
    CHECK(r.error() == http::errc::body_too_large);
}

TEST_CASE(
    "http client: a certificate from an untrusted CA fails as a TLS error, and localhost matches its name"
)
{
    auto server = start_server();
    asio::io_context io;
    http::client_options o;
    o.timeout = std::chrono::seconds{5};
    http::client untrusting(io.get_executor(), o, log::get("http"));
    auto r = run_io(io, untrusting.send(get(server->base_url() + "/v1/time-registrations")));
    REQUIRE(!r.has_value());
    CHECK(http::classify(r.error()) == http::error_kind::tls);

    http::client trusting(io.get_executor(), trusting_options(), log::get("http"));
    auto by_name = run_io(
        io, trusting.send(get(fmt::format("https://localhost:{}/v1/time-registrations", server->port())))
    );
    REQUIRE(by_name.has_value());
    CHECK(by_name->result_int() == 401);
}

TEST_CASE("http client: shutdown aborts a request in flight as cancelled")
{
    auto server = start_server();
    testing::fault slow;
    slow.what = testing::fault::kind::delay;
    slow.delay = std::chrono::seconds{4};
    server->inject(slow);
    asio::io_context io;
    http::client client(io.get_executor(), trusting_options(), log::get("http"));
    asio::steady_timer t(io, std::chrono::milliseconds{200});
    t.async_wait([&](boost::system::error_code) { client.shutdown(); });
    auto started = std::chrono::steady_clock::now();
    auto r = run_io(io, client.send(get(server->base_url() + "/v1/time-registrations")));
    REQUIRE(!r.has_value());
    CHECK(http::classify(r.error()) == http::error_kind::cancelled);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{2});
}

TEST_CASE("http client: HTTPS goes through a CONNECT proxy unless NO_PROXY names the host")
{
    auto server = start_server();
    asio::io_context io;
    connect_proxy proxy(io);
    auto o = trusting_options();
    o.proxy = fmt::format("http://127.0.0.1:{}", proxy.port());
    {
        http::client client(io.get_executor(), o, log::get("http"));
        auto r = run_io(io, [&]() -> asio::awaitable<unsigned> {
            auto res = co_await client.send(get(server->base_url() + "/v1/time-registrations"));
            client.shutdown();
            co_return res ? res->result_int() : 0u;
        }());
        CHECK(r == 401);
        CHECK(proxy.tunnels() == 1);
        CHECK(proxy.last_target() == fmt::format("127.0.0.1:{}", server->port()));
    }
    o.no_proxy = "example.org, 127.0.0.1";
    {
        http::client client(io.get_executor(), o, log::get("http"));
        auto r = run_io(io, [&]() -> asio::awaitable<unsigned> {
            auto res = co_await client.send(get(server->base_url() + "/v1/time-registrations"));
            client.shutdown();
            proxy.close();
            co_return res ? res->result_int() : 0u;
        }());
        CHECK(r == 401);
        CHECK(proxy.tunnels() == 1);
    }
}

TEST_SUITE_END();

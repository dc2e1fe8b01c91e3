#include <ditio_sync/http/client.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/net.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace ditio_sync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct client::connection {
    connection(asio::any_io_executor ex, asio::ssl::context& ctx, std::string key, bool use_tls)
        : origin(std::move(key)), tls(use_tls), stream(ex, ctx)
    {
        // Beast reads as much as the buffer has room for: an unreserved one stays at a few hundred bytes,
        // which costs a TLS read, a handler and a copy per few hundred bytes of a 20 MB page.
        buffer.reserve(64 * 1024);
    }
    std::string origin;
    bool tls;
    beast::ssl_stream<beast::tcp_stream> stream; // plain http uses only next_layer()
    beast::flat_buffer buffer;
    std::shared_ptr<asio::ip::tcp::resolver> resolver; // while resolving, so shutdown() can cancel it
    bool connected = false;
    std::uint64_t requests = 0;
    std::chrono::steady_clock::time_point idle_since;

    beast::tcp_stream& tcp() { return stream.next_layer(); }
};

namespace {

// Longer than any keep-alive a server or middlebox is likely to honour.
constexpr auto max_idle = std::chrono::seconds{30};

bool is_stale_connection_error(const boost::system::error_code& ec)
{
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated || ec == bhttp::error::partial_message;
}

// Beast reports an expired deadline as beast::error::timeout; callers see one error for it.
boost::system::error_code normalise(const boost::system::error_code& ec)
{
    if (ec == beast::error::timeout)
        return errc::timeout;
    if (ec == bhttp::error::body_limit)
        return errc::body_too_large;
    return ec;
}

} // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& ca_file)
{
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    // OpenSSL's default paths honour SSL_CERT_FILE and SSL_CERT_DIR.
    ctx->set_default_verify_paths();
    if (!ca_file.empty()) {
        boost::system::error_code ec;
        ctx->load_verify_file(ca_file, ec);
        if (ec)
            throw setup_error("http.ca_file: cannot load " + ca_file + ": " + ec.message());
    }
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
}

bool is_idempotent(bhttp::verb method)
{
    switch (method) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::put:
    case bhttp::verb::delete_:
    case bhttp::verb::options:
    case bhttp::verb::trace:
        return true;
    default:
        return false;
    }
}

client::client(asio::any_io_executor ex, client_options options, log::logger_ptr logger)
    : ex_(std::move(ex)), options_(std::move(options)), log_(std::move(logger)),
      tls_(make_tls_context(options_.ca_file))
{
}

client::~client() = default;

bool client::use_proxy_for(const std::string& host) const
{
    if (options_.proxy.empty())
        return false;
    std::string_view rest = options_.no_proxy;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (item.starts_with('.'))
            item.remove_prefix(1);
        if (item == "*" || host == item ||
            (host.size() > item.size() && host.ends_with(item) && host[host.size() - item.size() - 1] == '.'))
            return false;
    }
    return true;
}

asio::awaitable<boost::system::error_code>
client::connect(connection& c, const endpoint_url& url, std::chrono::steady_clock::time_point deadline)
{
    bool via_proxy = url.tls && use_proxy_for(url.host);
    std::string host = url.host;
    std::string port = url.port;
    if (via_proxy) {
        auto p = parse_url(options_.proxy);
        if (!p)
            co_return errc::proxy_refused;
        host = p->host;
        port = p->port;
    }
    // Name resolution has no deadline of its own: a timer cancels it at the request's deadline.
    c.resolver = std::make_shared<tcp::resolver>(ex_);
    asio::steady_timer resolve_deadline(ex_, deadline);
    resolve_deadline.async_wait([weak =
                                     std::weak_ptr<tcp::resolver>(c.resolver)](boost::system::error_code ec) {
        if (auto r = weak.lock(); r && !ec)
            r->cancel();
    });
    auto [rec, endpoints] = co_await c.resolver->async_resolve(host, port, util::use_nothrow);
    bool timed_out = rec == asio::error::operation_aborted && std::chrono::steady_clock::now() >= deadline;
    resolve_deadline.cancel();
    c.resolver.reset();
    if (shut_down_)
        co_return errc::cancelled;
    if (rec)
        co_return timed_out ? make_error_code(errc::timeout) : rec;
    c.tcp().expires_at(deadline);
    auto [cec, ep] = co_await c.tcp().async_connect(endpoints, util::use_nothrow);
    if (shut_down_)
        co_return errc::cancelled;
    if (cec && via_proxy && classify(normalise(cec)) == error_kind::network)
        co_return errc::proxy_failed; // say it was the proxy, not Ditio, that could not be reached
    if (cec)
        co_return normalise(cec);
    boost::system::error_code ignored;
    c.tcp().socket().set_option(tcp::no_delay(true), ignored);
    ++connections_opened_;

    if (via_proxy) {
        auto authority = url.host.find(':') != std::string::npos ? "[" + url.host + "]:" + url.port
                                                                 : url.host + ":" + url.port;
        bhttp::request<bhttp::empty_body> connect_req{bhttp::verb::connect, authority, 11};
        connect_req.set(bhttp::field::host, authority);
        connect_req.set(bhttp::field::user_agent, options_.user_agent);
        auto [wec, wn] = co_await bhttp::async_write(c.tcp(), connect_req, util::use_nothrow);
        if (wec)
            co_return normalise(wec);
        bhttp::response_parser<bhttp::empty_body> parser;
        parser.skip(true); // a CONNECT answer has no body, whatever its headers say
        auto [rdec, rn] = co_await bhttp::async_read_header(c.tcp(), c.buffer, parser, util::use_nothrow);
        if (rdec)
            co_return normalise(rdec);
        auto status = parser.get().result_int();
        if (status / 100 != 2)
            co_return status >= 500 ? errc::proxy_failed : errc::proxy_refused;
    }

    if (url.tls) {
        if (!util::is_ip_literal(url.host) &&
            !SSL_set_tlsext_host_name(c.stream.native_handle(), url.host.c_str()))
            co_return boost::system::error_code(
                static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()
            );
        c.stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
        auto [hec] = co_await c.stream.async_handshake(asio::ssl::stream_base::client, util::use_nothrow);
        if (shut_down_)
            co_return errc::cancelled;
        if (hec)
            co_return normalise(hec);
    }
    c.connected = true;
    co_return boost::system::error_code{};
}

asio::awaitable<boost::system::result<response>> client::exchange(
    connection& c,
    const endpoint_url& url,
    const request& req,
    std::chrono::steady_clock::time_point deadline,
    bool& received_any
)
{
    received_any = false;
    if (!c.connected) {
        if (auto ec = co_await connect(c, url, deadline))
            co_return ec;
    }
    bhttp::request<bhttp::string_body> out{req.method, url.target, 11};
    auto host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    out.set(bhttp::field::host, url.port == (url.tls ? "443" : "80") ? host : host + ":" + url.port);
    out.set(bhttp::field::user_agent, options_.user_agent);
    out.set(bhttp::field::accept, "application/json");
    for (const auto& [k, v] : req.headers)
        out.set(k, v);
    out.body() = req.body;
    out.prepare_payload();
    out.keep_alive(true);

    c.tcp().expires_at(deadline);
    boost::system::error_code ec;
    if (c.tls)
        std::tie(ec, std::ignore) = co_await bhttp::async_write(c.stream, out, util::use_nothrow);
    else
        std::tie(ec, std::ignore) = co_await bhttp::async_write(c.tcp(), out, util::use_nothrow);
    if (ec)
        co_return normalise(ec);

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    // Read the header first so a stale keep-alive connection (nothing received) can be told apart.
    if (c.tls)
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read_header(c.stream, c.buffer, parser, util::use_nothrow);
    else
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read_header(c.tcp(), c.buffer, parser, util::use_nothrow);
    if (ec)
        co_return normalise(ec);
    received_any = true;
    if (c.tls)
        std::tie(ec, std::ignore) = co_await bhttp::async_read(c.stream, c.buffer, parser, util::use_nothrow);
    else
        std::tie(ec, std::ignore) = co_await bhttp::async_read(c.tcp(), c.buffer, parser, util::use_nothrow);
    if (ec)
        co_return normalise(ec);
    ++c.requests;
    co_return parser.release();
}

asio::awaitable<boost::system::result<response>> client::send(request req)
{
    if (shut_down_)
        co_return make_error_code(errc::cancelled);
    auto url = parse_url(req.url);
    if (!url)
        co_return url.error();
    auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    auto started = std::chrono::steady_clock::now();
    auto key = url->origin();

    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<connection> c;
        // A connection idle for long may have been dropped silently by a NAT or firewall; reusing it
        // would cost a whole timeout, so it is closed instead.
        for (auto it = idle_.find(key); it != idle_.end() && it->first == key;) {
            auto next = std::next(it);
            if (std::chrono::steady_clock::now() - it->second->idle_since < max_idle) {
                c = std::move(it->second);
                idle_.erase(it);
                break;
            }
            idle_.erase(it);
            it = next;
        }
        if (!c) {
            c = std::make_unique<connection>(ex_, *tls_, key, url->tls);
        }
        bool reused = c->requests > 0;
        bool received_any = false;
        in_flight_.insert(c.get());
        auto result = co_await exchange(*c, *url, req, deadline, received_any);
        in_flight_.erase(c.get());
        if (shut_down_)
            co_return make_error_code(errc::cancelled);
        // A kept-alive connection the server had closed is tried again once: not an answer to count. Not
        // for a POST or PATCH: the server may have read it before it closed, and a second one could create
        // a second work order.
        bool stale_retry = !result && reused && !received_any && attempt == 0 &&
                           (is_idempotent(req.method) || req.resend_allowed) &&
                           is_stale_connection_error(result.error());
        if (options_.on_response && !stale_retry)
            options_.on_response(result ? static_cast<int>(result->result_int()) : 0);
        if (on_exchange_ && !stale_retry)
            on_exchange_(
                req,
                result,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started
                )
            );
        if (result) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started
            );
            log::debug(
                log_,
                "http.response",
                {{"method", std::string(bhttp::to_string(req.method))},
                 {"origin", key},
                 {"path", url->target.substr(0, url->target.find('?'))},
                 {"status", result->result_int()},
                 {"bytes", result->body().size()},
                 {"reused", reused},
                 {"ms", ms.count()}}
            );
            if (result->keep_alive()) {
                c->idle_since = std::chrono::steady_clock::now();
                idle_.emplace(key, std::move(c));
            }
            co_return result;
        }
        if (stale_retry) {
            log::debug(log_, "http.reconnect", {{"origin", key}, {"reason", result.error().message()}});
            continue;
        }
        co_return result.error();
    }
}

void client::shutdown()
{
    shut_down_ = true;
    for (auto* c : in_flight_) {
        if (c->resolver)
            c->resolver->cancel();
        boost::system::error_code ignored;
        c->tcp().socket().cancel(ignored);
        c->tcp().socket().close(ignored);
    }
    idle_.clear();
}

} // namespace ditio_sync::http

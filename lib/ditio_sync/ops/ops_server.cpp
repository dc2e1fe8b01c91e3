#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ops/ops_server.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

namespace ditio_sync::ops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using util::use_nothrow;

struct ops_server::state {
    state(
        asio::any_io_executor executor,
        std::string listen_address,
        bool remote,
        const metrics& source,
        clock_fn clock,
        log::logger_ptr lg,
        ops_server_limits bounds
    )
        : ex(std::move(executor)), listen(std::move(listen_address)), allow_remote(remote), m(source),
          now(std::move(clock)), logger(std::move(lg)), limits(bounds)
    {
    }

    asio::any_io_executor ex;
    std::string listen;
    bool allow_remote = false;
    const metrics& m;
    clock_fn now;
    log::logger_ptr logger;
    ops_server_limits limits;

    // A connection being served, for stop() and to make room for a new one.
    struct session {
        beast::tcp_stream* stream = nullptr;
        bool evictable =
            false; // reading a request (or waiting for the next one), or draining after a refusal
        std::chrono::steady_clock::time_point since;
    };

    std::optional<tcp::acceptor> acceptor;
    std::map<std::uint64_t, session> sessions;
    std::size_t active = 0; // accepted and not yet finished
    std::uint64_t next_id = 1;
    bool stopped = false;
};

namespace {

using request_t = http::request<http::string_body>;
using response_t = http::response<http::string_body>;

// Requests here never need a body; a small one is read and ignored rather than refused.
constexpr std::uint64_t max_body_bytes = 8 * 1024;
constexpr std::string_view metrics_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view json_type = "application/json";
constexpr std::string_view text_type = "text/plain; charset=utf-8";

[[noreturn]] void fail(std::string_view listen, std::string_view what)
{
    throw config::config_error(fmt::format("ops.listen: {}: {}", listen, what));
}

[[noreturn]] void malformed(std::string_view listen)
{
    fail(listen, "not host:port (an IP address or localhost, and a port; e.g. \"127.0.0.1:9464\")");
}

std::string describe(const boost::system::error_code& ec)
{
    if (ec == asio::error::address_in_use)
        return "address in use";
    if (ec == asio::error::access_denied)
        return "permission denied";
    if (ec == boost::system::errc::address_not_available)
        return "address not available on this host";
    return ec.message();
}

response_t plain(http::status status, unsigned version, std::string_view content_type, std::string body)
{
    response_t res{status, version};
    res.set(http::field::server, "ditio-sync/" DITIO_SYNC_VERSION);
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    return res;
}

response_t answer(const ops_server::clock_fn& now, const metrics& m, const request_t& req)
{
    auto target = req.target();
    auto path = std::string_view(target.data(), target.size());
    path = path.substr(0, path.find('?'));
    bool metrics_path = path == "/metrics";
    bool health_path = path == "/healthz";
    if (!metrics_path && !health_path)
        return plain(http::status::not_found, req.version(), text_type, "not found\n");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = plain(http::status::method_not_allowed, req.version(), text_type, "method not allowed\n");
        res.set(http::field::allow, "GET, HEAD");
        return res;
    }
    if (metrics_path)
        return plain(http::status::ok, req.version(), metrics_type, m.render_prometheus(now()));
    auto health = m.check_health(now());
    return plain(
        health.ok ? http::status::ok : http::status::service_unavailable,
        req.version(),
        json_type,
        std::move(health.json)
    );
}

// A request the parser refused gets one answer and a close; other read errors (EOF, the client going away,
// the deadline, stop()) end the connection without one.
std::optional<http::status> refusal_for(const boost::system::error_code& ec)
{
    if (ec == http::error::header_limit)
        return http::status::request_header_fields_too_large;
    if (ec == http::error::body_limit)
        return http::status::payload_too_large;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message)
        return std::nullopt;
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
        return http::status::bad_request;
    return std::nullopt;
}

// After answering a refused request: send FIN, then read what the client still sends for a moment, so that
// closing with unread data (which sends RST) cannot destroy the answer before the client has read it.
asio::awaitable<void> drain(beast::tcp_stream& stream, std::chrono::milliseconds timeout)
{
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds{1}));
    std::array<char, 4096> scrap{};
    for (std::size_t total = 0; !ec && total < 64 * 1024;) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await stream.async_read_some(asio::buffer(scrap), use_nothrow);
        total += n;
    }
    stream.close();
}

asio::awaitable<void> serve(std::shared_ptr<ops_server::state> st, tcp::socket socket)
{
    if (st->stopped)
        co_return;
    beast::tcp_stream stream{std::move(socket)};
    auto id = st->next_id++;
    st->sessions.emplace(id, ops_server::state::session{&stream, false, std::chrono::steady_clock::now()});
    struct unregister {
        ops_server::state* s;
        std::uint64_t id;
        ~unregister() { s->sessions.erase(id); }
    } guard{st.get(), id};

    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(st->limits.max_header_bytes);
        parser.body_limit(max_body_bytes);
        // One short deadline for the whole request, head and body (the endpoint needs none): a client
        // trickling bytes keeps its slot for seconds at most, and while it is read it may make room.
        auto& self = st->sessions.at(id);
        self.evictable = true;
        self.since = std::chrono::steady_clock::now();
        stream.expires_after(std::min(st->limits.request_timeout, st->limits.timeout));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (st->stopped)
            co_return;
        st->sessions.at(id).evictable = false;
        if (ec) {
            auto status = refusal_for(ec);
            if (!status)
                break;
            auto res = plain(*status, 11, text_type, std::string(obsolete_reason(*status)) + "\n");
            res.keep_alive(false);
            res.prepare_payload();
            stream.expires_after(st->limits.timeout);
            auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
            if (!wec) {
                st->sessions.at(id).evictable = true;
                co_await drain(stream, st->limits.timeout);
            }
            co_return;
        }
        const auto& req = parser.get();
        auto res = answer(st->now, st->m, req);
        bool keep_alive = req.keep_alive();
        res.keep_alive(keep_alive);
        res.prepare_payload();
        stream.expires_after(st->limits.timeout);
        boost::system::error_code wec;
        if (req.method() == http::verb::head) {
            // The headers of the GET answer, Content-Length included, without its body.
            http::response<http::empty_body> head{std::move(res.base())};
            std::tie(wec, n) = co_await http::async_write(stream, head, use_nothrow);
        } else {
            std::tie(wec, n) = co_await http::async_write(stream, res, use_nothrow);
        }
        if (wec || st->stopped)
            co_return;
        if (!keep_alive)
            break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
}

// Closes the connection that has been reading a request (or draining) longest, so a new one (a health
// check) gets its slot; false when none is, or when so many are closing already that the new one must wait.
bool make_room(ops_server::state& st)
{
    if (st.active >= 2 * st.limits.max_connections)
        return false;
    ops_server::state::session* oldest = nullptr;
    for (auto& [id, s] : st.sessions)
        if (s.evictable && (!oldest || s.since < oldest->since))
            oldest = &s;
    if (!oldest)
        return false;
    oldest->evictable = false; // closing: not to be chosen twice
    oldest->stream->close();
    return true;
}

asio::awaitable<void> accept_loop(std::shared_ptr<ops_server::state> st)
{
    for (;;) {
        auto [ec, socket] = co_await st->acceptor->async_accept(use_nothrow);
        if (st->stopped || ec == asio::error::operation_aborted)
            co_return;
        if (ec) {
            // EMFILE and friends: back off instead of spinning.
            asio::steady_timer pause{st->ex, std::chrono::milliseconds{100}};
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        if (st->active >= st->limits.max_connections && !make_room(*st)) {
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        ++st->active;
        // Sessions end on their own (deadline, EOF, stop()); the handler only counts them and logs a bug.
        asio::co_spawn(st->ex, serve(st, std::move(socket)), [st](std::exception_ptr e) {
            --st->active;
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error(st->logger, "ops.connection_failed", {{"error", ex.what()}});
            }
        });
    }
}

} // namespace

tcp::endpoint parse_listen_address(std::string_view listen)
{
    auto parsed = config::parse_listen_address(listen);
    if (!parsed)
        malformed(listen);
    if (parsed->host == "localhost")
        return {asio::ip::address_v4::loopback(), parsed->port};
    return {asio::ip::make_address(parsed->host), parsed->port};
}

ops_server::ops_server(
    asio::any_io_executor ex,
    std::string listen,
    bool allow_remote,
    const metrics& m,
    clock_fn now,
    log::logger_ptr logger,
    ops_server_limits limits
)
    : state_(std::make_shared<state>(
          std::move(ex), std::move(listen), allow_remote, m, std::move(now), std::move(logger), limits
      ))
{
}

ops_server::~ops_server()
{
    stop();
}

void ops_server::start()
{
    auto& st = *state_;
    if (st.stopped)
        throw std::logic_error("ops_server: cannot start again after stop()");
    if (st.acceptor)
        return;
    auto endpoint = parse_listen_address(st.listen);
    if (!st.allow_remote && !endpoint.address().is_loopback())
        fail(
            st.listen,
            "not a loopback address; the endpoint has no authentication, so serving it beyond this host "
            "needs ops.allow_remote = true"
        );
    tcp::acceptor acceptor{st.ex};
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    // Lets a restarted daemon bind while connections of its predecessor linger in TIME_WAIT; a port that
    // another socket listens on is still refused.
    if (!ec)
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        acceptor.bind(endpoint, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        fail(st.listen, describe(ec));
    st.acceptor.emplace(std::move(acceptor));

    auto bound = st.acceptor->local_endpoint();
    log::info(
        st.logger,
        "ops.listening",
        {{"address", bound.address().to_string()}, {"port", bound.port()}, {"paths", "/metrics /healthz"}}
    );
    asio::co_spawn(st.ex, accept_loop(state_), [st = state_](std::exception_ptr e) {
        if (!e)
            return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            // Metrics and health stop answering, but the sync goes on: not worth failing the daemon.
            log::error(st->logger, "ops.accept_failed", {{"error", ex.what()}});
        }
    });
}

void ops_server::stop()
{
    auto& st = *state_;
    if (st.stopped)
        return;
    st.stopped = true;
    boost::system::error_code ignored;
    if (st.acceptor)
        st.acceptor->close(ignored);
    for (auto& entry : st.sessions)
        entry.second.stream->close();
}

tcp::endpoint ops_server::local_endpoint() const
{
    if (!state_->acceptor)
        throw std::logic_error("ops_server: local_endpoint() before start()");
    return state_->acceptor->local_endpoint();
}

} // namespace ditio_sync::ops

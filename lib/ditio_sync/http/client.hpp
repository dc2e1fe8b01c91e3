// HTTPS client on Beast: keep-alive connections pooled per origin and reused across requests, reconnecting
// when the server has closed an idle one; TLS 1.2+ with peer and host-name verification; SNI; an
// absolute deadline per request; a response body limit; optional HTTP CONNECT proxy.
//
// Errors: transport failures come back as error_code in result<> (see http/error.hpp); HTTP statuses,
// including 4xx/5xx, are successful results for the caller to judge.
// Thread safety: one client belongs to one single-threaded executor; all calls on that executor.
#pragma once

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/http/url.hpp>
#include <ditio_sync/log/log.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ditio_sync::http {

struct client_options {
    std::chrono::milliseconds timeout = config::http_section{}.timeout;
    std::size_t max_body_bytes = config::http_section{}.max_body_bytes;
    std::string ca_file;  // extra trust anchors, added to the system store
    std::string proxy;    // "http://host:port"; empty: none
    std::string no_proxy; // comma-separated host suffixes that bypass the proxy
    std::string user_agent = "ditio-sync/" DITIO_SYNC_VERSION;
    // Told of every exchange's outcome, for metrics: the HTTP status, or 0 when none was received.
    std::function<void(int status)> on_response;
};

using response = boost::beast::http::response<boost::beast::http::string_body>;

struct request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string url; // absolute
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // A POST or PATCH that may be sent twice without harm (a token request): see client::send.
    bool resend_allowed = false;
};

// GET, HEAD, PUT, DELETE, OPTIONS and TRACE: sending one twice has the effect of sending it once.
bool is_idempotent(boost::beast::http::verb method);

// A TLS client context trusting the system store (SSL_CERT_FILE/SSL_CERT_DIR honoured) plus ca_file.
// Throws setup_error (http/error.hpp) when ca_file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file);

class client {
public:
    client(boost::asio::any_io_executor ex, client_options options, log::logger_ptr logger);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Sends one request and reads the whole response. An idempotent request (or one that allows it) is
    // sent once more on a fresh connection when a reused keep-alive connection turns out to be closed
    // before any response byte arrived; any other (a POST or PATCH) fails then: the server may have
    // applied it, and only the caller can find out.
    boost::asio::awaitable<boost::system::result<response>> send(request req);

    // Aborts requests in flight (they complete with errc::cancelled), closes every connection, and makes
    // later sends fail the same way.
    void shutdown();

    std::uint64_t connections_opened() const { return connections_opened_; }

    // Told of every exchange as it ends: the request as sent (headers included), and the response or the
    // error, with the time it took. `ditio-sync capture` records them. Must not throw.
    using exchange_observer = std::function<
        void(const request&, const boost::system::result<response>&, std::chrono::milliseconds elapsed)>;
    void on_exchange(exchange_observer f) { on_exchange_ = std::move(f); }

private:
    struct connection;
    boost::asio::awaitable<boost::system::error_code>
    connect(connection& c, const endpoint_url& url, std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<boost::system::result<response>> exchange(
        connection& c,
        const endpoint_url& url,
        const request& req,
        std::chrono::steady_clock::time_point deadline,
        bool& received_any
    );
    bool use_proxy_for(const std::string& host) const;

    boost::asio::any_io_executor ex_;
    client_options options_;
    log::logger_ptr log_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::multimap<std::string, std::unique_ptr<connection>> idle_;
    std::set<connection*> in_flight_;
    bool shut_down_ = false;
    std::uint64_t connections_opened_ = 0;
    exchange_observer on_exchange_;
};

} // namespace ditio_sync::http

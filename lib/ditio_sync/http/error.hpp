// HTTP transport errors and their classification for retry decisions.
// Expected failures (network, TLS, timeouts, oversized bodies) travel as error_code in result<T>.
#pragma once

#include <boost/system/error_code.hpp>

#include <stdexcept>
#include <string>
#include <type_traits>

namespace ditio_sync::http {

enum class errc {
    bad_url = 1,    // the URL could not be parsed or has an unsupported scheme
    body_too_large, // the response body exceeded http.max_body_mb
    timeout,        // the request deadline (http.timeout) passed
    proxy_refused,  // the proxy refused the CONNECT request (407, 403): configuration
    proxy_failed,   // the proxy could not open the tunnel (5xx): retry
    cancelled,      // the client was shut down while the request was in flight
};

const boost::system::error_category& http_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), http_category()};
}

// What a failure means for a retry decision.
enum class error_kind {
    network,   // connection refused/reset/closed: retry
    timeout,   // deadline passed: retry
    tls,       // handshake or certificate verification failed: do not retry, configuration
    cancelled, // shutdown: never retry
    protocol,  // malformed HTTP or oversized body: retry (a proxy or a truncated body)
    config,    // bad URL, proxy refused: do not retry
};

error_kind classify(const boost::system::error_code& ec);

// A short description for logs and sync_state.last_error.
std::string describe(const boost::system::error_code& ec);

// Settings the client cannot work with (an http.ca_file that does not load): a configuration error, which
// the message names by its key.
class setup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace ditio_sync::http

template <> struct boost::system::is_error_code_enum<ditio_sync::http::errc> : std::true_type {
};

// The ops endpoint: a small plain-HTTP/1.1 server on Beast serving GET/HEAD /metrics (Prometheus text
// format) and /healthz (200 or 503 with a JSON body) from an ops::metrics, on the daemon's io_context.
//
// Thread safety: construct anywhere; start(), stop() and the destructor on the executor's thread (or while
// no thread runs it), and before its io_context is destroyed. Connections run as coroutines on that
// executor, each with a deadline; an exception in one is logged ("ops.connection_failed") and ends only it.
#pragma once

#include <ditio_sync/log/log.hpp>
#include <ditio_sync/ops/metrics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ditio_sync::ops {

// Bounds that keep a slow or hostile client from pinning the server.
struct ops_server_limits {
    // Deadline for writing an answer, and the longest any read may take.
    std::chrono::milliseconds timeout{std::chrono::seconds{10}};
    // Deadline for reading one request, head and body, from when the connection is ready for it (a
    // keep-alive connection idle this long is closed); at most `timeout`. A health check sends its
    // request at once: a client that trickles one (slowloris) loses its slot soon.
    std::chrono::milliseconds request_timeout{std::chrono::seconds{2}};
    // Connections served at once. One more makes room by closing the connection that has been reading a
    // request (or draining after a refusal) longest; when none is, the new one is closed at once.
    std::size_t max_connections = 16;
    // Largest request head (request line and header fields); larger ones get 431 and a close.
    std::uint32_t max_header_bytes = 8 * 1024;
};

// A listen address "host:port": host is an IPv4 literal, a bracketed IPv6 literal ("[::1]:9464") or
// "localhost" (127.0.0.1); port 0..65535 (0 picks a free one). Throws config::config_error naming ops.listen.
boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view listen);

class ops_server {
public:
    using clock_fn = std::function<std::chrono::system_clock::time_point()>;

    // `m` must outlive the server's connections: call stop() before destroying it. `now` supplies the
    // time that health and ages are judged against.
    ops_server(
        boost::asio::any_io_executor ex,
        std::string listen,
        bool allow_remote,
        const metrics& m,
        clock_fn now,
        log::logger_ptr logger,
        ops_server_limits limits = {}
    );
    ~ops_server();
    ops_server(const ops_server&) = delete;
    ops_server& operator=(const ops_server&) = delete;

    // Binds and listens, then serves until stop(). Throws config::config_error naming ops.listen when the
    // address is malformed, is not loopback while allow_remote is false, or cannot be bound
    // ("ops.listen: 127.0.0.1:9464: address in use").
    void start();

    // Closes the listening socket and every connection; idempotent. Connections in flight end as soon as
    // their coroutines resume (the server's state lives until then, also past the destructor).
    void stop();

    // The bound address (its port when listening on port 0). Only after start().
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    // What the server and its connection coroutines share; defined in ops_server.cpp.
    struct state;

private:
    std::shared_ptr<state> state_;
};

} // namespace ditio_sync::ops

// Fetches pages from the Data Extraction API with the shared retry policy: 429 honours Retry-After (seconds
// or HTTP date), 5xx / resets / timeouts / malformed pages back off exponentially with full jitter up to
// http.max_retries; a 401 refreshes the token once and retries once; 403 and a second 401 are refused.
//
// Errors: result<fetched_page, fetch_failure>, see fetch_errc.
// Thread safety: one client per single-threaded executor.
#pragma once

#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/util/backoff.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ditio_sync::ditio {

enum class fetch_errc {
    auth_refused,   // credentials, client or scope refused: exit code 3, retrying cannot help
    token_rejected, // Ditio answered 400 to a request carrying a continuation token
    bad_request,    // another 4xx: Ditio's error and message in `message`
    unavailable,    // retries exhausted (5xx, 429, network, malformed pages)
    misconfigured,  // TLS verification or proxy failure: a setting to fix
    cancelled,      // shutdown
};

struct fetch_failure {
    fetch_errc code = fetch_errc::unavailable;
    std::string message; // for logs and sync_state.last_error; never contains a secret
    int status = 0;      // HTTP status when one was received
};

[[noreturn]] void throw_exception_from_error(const fetch_failure& f, const boost::source_location& loc);

struct fetched_page {
    page body;
    std::optional<util::sys_micros> server_date; // the response's Date header
    std::size_t bytes = 0;
};

using query = std::vector<std::pair<std::string, std::string>>;

// Retries left for one run, shared by all its requests.
struct retry_budget {
    int remaining = 30;
};

struct retry_settings {
    int max_retries = 6;
    std::chrono::milliseconds initial{1000};
    std::chrono::milliseconds max{60000};
};

class extraction_client {
public:
    extraction_client(
        http::client& http,
        auth::token_provider& tokens,
        std::string reporting_base,
        retry_settings retry,
        util::stop_source& stop,
        const util::clock& clock,
        log::logger_ptr logger,
        std::uint64_t seed
    );

    // GET {reporting_base}/{path}?{params}[&ContinuationToken=...], retried per the policy above while
    // `budget` lasts; each retry spends one.
    boost::asio::awaitable<boost::system::result<fetched_page, fetch_failure>> fetch_page(
        std::string_view stream,
        std::string_view path,
        const query& params,
        const std::optional<std::string>& continuation,
        retry_budget& budget
    );

    // Called before each retry, for metrics.
    void on_retry(std::function<void(std::string_view stream)> f) { on_retry_ = std::move(f); }

private:
    http::client& http_;
    auth::token_provider& tokens_;
    std::string base_;
    retry_settings retry_;
    util::stop_source& stop_;
    const util::clock& clock_;
    log::logger_ptr log_;
    util::backoff backoff_;
    std::function<void(std::string_view)> on_retry_;
};

// Ditio's error body ({"error","message"} or v5 {"message","errors":[...]}) as one line, or a short
// excerpt of a non-JSON body.
std::string describe_error_body(int status, const std::string& body);

// Retry-After in seconds or as an HTTP date (relative to `now`); nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, util::sys_micros now);

} // namespace ditio_sync::ditio

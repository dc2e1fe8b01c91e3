// The retry policy every Ditio request shares, extraction pages and Integration API writes alike: a bearer
// token from the provider; 429 honours Retry-After (seconds or HTTP date); 5xx, 408, resets and timeouts back
// off exponentially with full jitter up to max_retries; a 401 refreshes the token once and retries once.
// Every other answer goes to the caller's judge, which accepts it, fails it, or asks for a retry (a
// malformed page, say).
//
// Errors: result<http::response, fetch_failure>, see fetch_errc.
// Thread safety: one caller per single-threaded executor.
#pragma once

#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/config/config.hpp>
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

namespace ditio_sync::ditio {

enum class fetch_errc {
    auth_refused,   // credentials, client or scope refused: exit code 3, retrying cannot help
    token_rejected, // Ditio answered 400 to a request carrying a continuation token
    bad_request,    // another 4xx: Ditio's error and message in `message`
    unavailable,    // retries exhausted (5xx, 429, network, malformed pages)
    misconfigured,  // TLS verification or proxy failure: a setting to fix
    cancelled,      // shutdown
    uncertain,      // a request that is not idempotent may have been applied: look before asking again
    not_ditio,      // the base URL answered 404/405 with a page that is not Ditio's JSON error: the base
                    // (named in `message`) is wrong; a configuration error (exit code 2), never the row's
    scope_missing,  // the token lacks the scope this API needs (not granted, or the API answered 403 to
                    // it): the feature is off until the API client gets the scope; exit code 3
};

struct fetch_failure {
    fetch_errc code = fetch_errc::unavailable;
    std::string message; // for logs and the database; never contains a secret
    int status = 0;      // HTTP status when one was received
};

[[noreturn]] void throw_exception_from_error(const fetch_failure& f, const boost::source_location& loc);

// Retries left for one run (or one push pass), shared by all its requests.
struct retry_budget {
    int remaining = config::http_section{}.run_retry_budget;
};

struct retry_settings {
    int max_retries = config::http_section{}.max_retries;
    std::chrono::milliseconds initial = config::http_section{}.retry_initial;
    std::chrono::milliseconds max = config::http_section{}.retry_max;
};

// What the caller makes of an answer the shared policy leaves to it.
struct verdict {
    enum class kind { accept, retry, fail };
    kind what = kind::accept;
    std::string reason;                        // retry: why, for the log; fail: the failure message
    fetch_errc code = fetch_errc::bad_request; // fail only
};

using answer_judge = std::function<verdict(http::response&)>;

// Whether a request may be sent again once Ditio may have applied it (a 5xx, a reset, a timeout).
enum class resend {
    allowed, // idempotent: GET, PATCH, a POST Ditio answers for the existing row
    never,   // the caller looks before it asks again
};

class api_caller {
public:
    // `scope` names the scope the 401 message suggests checking; `subject_key` is the log field that
    // names what a request was for ("stream", "outbox").
    api_caller(
        http::client& http,
        auth::token_provider& tokens,
        retry_settings retry,
        util::stop_source& stop,
        const util::clock& clock,
        log::logger_ptr logger,
        std::uint64_t seed,
        std::string scope,
        std::string subject_key
    );

    // Sends `req` with a bearer token added, under the policy above, while `budget` lasts (each retry
    // spends one). `judge` sees every answer other than 401, 408, 429 and 5xx. A request sent with
    // resend::never is not repeated once it may have been applied (5xx, 408, reset, timeout, an answer the
    // judge cannot read): that comes back as `uncertain`, for the caller to look before it asks again. 429
    // and 401 are repeated either way: Ditio did not act on them.
    boost::asio::awaitable<boost::system::result<http::response, fetch_failure>> call(
        std::string_view subject,
        const http::request& req,
        retry_budget& budget,
        const answer_judge& judge,
        resend policy = resend::allowed
    );

    // The wait before the caller's own attempt number `attempt` (0-based) of something it repeats itself,
    // by the same policy as the retries here.
    std::chrono::milliseconds retry_delay(unsigned attempt) { return backoff_.delay(attempt); }

    // The scope this caller's API needs, as the token provider was asked for it.
    const std::string& scope() const { return scope_; }

    // Called before each retry, for metrics.
    void on_retry(std::function<void(std::string_view subject)> f) { on_retry_ = std::move(f); }

private:
    // The client lacks `scope_`: no request is sent.
    fetch_failure scope_missing() const;
    // How long a 429 asks to wait, when it says.
    std::optional<std::chrono::milliseconds> retry_after_of(const http::response& res) const;

    http::client& http_;
    auth::token_provider& tokens_;
    retry_settings retry_;
    util::stop_source& stop_;
    const util::clock& clock_;
    log::logger_ptr log_;
    util::backoff backoff_;
    std::string scope_;
    std::string subject_key_;
    std::function<void(std::string_view)> on_retry_;
};

// Ditio's error body ({"error","message"}, v5 {"message","errors":[...]}, or problem+json {"title",
// "errors":{field:[...]}}) as one line, or a short excerpt of a non-JSON body ("HTTP 400" for an empty one);
// redacted (util/redact.hpp) and at most util::max_excerpt_bytes long.
std::string describe_error_body(int status, const std::string& body);

// Whether an error answer's body is Ditio's own JSON error (an object: {"error","message"}, v5's
// {"message","errors"}, application/problem+json) rather than a page from something else at that address:
// an HTML 404, an empty body, a proxy's page. Only the shape counts, never the wording. A 404 or 405 that
// is not Ditio's means the configured base is wrong, not that Ditio refused the request.
bool is_ditio_error_body(std::string_view body);

// A 404 or 405 whose body is not Ditio's JSON error (is_ditio_error_body), as a not_ditio failure naming
// the configuration key `key` that set the base and what answered (status and a short redacted excerpt);
// nullopt for any other answer.
std::optional<fetch_failure> not_ditio_failure(
    const http::response& res, std::string_view key, std::string_view base, std::string_view url
);

// Retry-After in seconds or as an HTTP date (relative to `now`); nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, util::sys_micros now);

} // namespace ditio_sync::ditio

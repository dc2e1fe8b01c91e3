// OAuth2 client-credentials tokens for the Ditio APIs: cached, refreshed a margin before expiry (checked
// before every request), one refresh in flight however many requests need it.
//
// Errors (result<>): errc::refused for invalid_client / invalid_scope / unauthorized_client (retrying
// cannot help, exit code 3); errc::unavailable for network failures, 429 and 5xx (retry with backoff);
// errc::misconfigured for TLS or proxy failures.
// Thread safety: one provider per single-threaded executor.
#pragma once

#include <ditio_sync/http/client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/util/clock.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace ditio_sync::auth {

enum class errc {
    refused = 1,   // the identity server refused the client or scope
    unavailable,   // the token endpoint could not be reached or failed; retry later
    cancelled,     // shutdown
    misconfigured, // TLS verification failed or the proxy refused: a setting to fix, not credentials
};

const boost::system::error_category& auth_category() noexcept;
inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), auth_category()};
}

struct token_settings {
    std::string identity_base;
    std::string client_id;
    std::string client_secret;
    std::string scope;
    std::chrono::seconds max_margin{
        60}; // refresh this long before expiry (at most a quarter of the lifetime)
};

class token_provider {
public:
    token_provider(
        http::client& http, token_settings settings, const util::clock& clock, log::logger_ptr logger
    );

    // A token valid for at least the margin. `detail` receives a human-readable reason on failure
    // (Ditio's error code and what to check), never the secret.
    boost::asio::awaitable<boost::system::result<std::string>> token(std::string* detail = nullptr);

    // Drops `rejected` from the cache after an API 401, so the next token() fetches a new one.
    void invalidate(const std::string& rejected);

    std::uint64_t refreshes() const { return refreshes_; }

    // New credentials (a reloaded configuration or a rotated secret): the cached token is dropped when
    // they differ, so the next request asks for a token with them.
    void set_credentials(std::string client_id, std::string client_secret, std::string scope);

    // Called after each new token, for metrics.
    void on_refreshed(std::function<void()> f) { on_refreshed_ = std::move(f); }

private:
    boost::asio::awaitable<boost::system::result<std::string>> refresh(std::string* detail);
    bool fresh() const;

    http::client& http_;
    token_settings settings_;
    const util::clock& clock_;
    log::logger_ptr log_;
    std::string token_;
    std::chrono::steady_clock::time_point expires_at_{};
    std::chrono::seconds lifetime_{0};
    bool refreshing_ = false;
    std::optional<boost::asio::steady_timer> refresh_done_; // parked at max(), cancelled to wake waiters
    boost::system::error_code last_error_;
    std::string last_detail_;
    std::uint64_t refreshes_ = 0;
    std::function<void()> on_refreshed_;
};

} // namespace ditio_sync::auth

template <> struct boost::system::is_error_code_enum<ditio_sync::auth::errc> : std::true_type {
};

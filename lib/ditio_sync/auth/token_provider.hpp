// OAuth2 client-credentials tokens for the Ditio APIs: cached, refreshed a margin before expiry (checked
// before every request), one refresh in flight however many requests need it.
//
// Scopes follow the features (docs/live-ditio.md section 4): unless the operator set ditio.scope, the
// provider asks for the scopes the enabled features need together; when the identity server refuses that
// with the OAuth error code invalid_scope (RFC 6749 5.2), it asks for each one alone and keeps those
// granted. A token response's `scope` field, when present, says what was granted (RFC 6749 5.1 lets the
// server narrow silently); without it, what was asked for is taken as granted. A feature whose scope was not
// granted is off (lacks() says so, auth.feature_off says it once); the others run.
//
// Errors (result<>): errc::refused for invalid_client / unauthorized_client, or when no feature's scope is
// granted (retrying cannot help, exit code 3); errc::unavailable for network failures, 429 and 5xx (retry
// with backoff); errc::misconfigured for TLS or proxy failures. Thread safety: one provider per
// single-threaded executor.
#pragma once

#include <ditio_sync/http/client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/util/clock.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

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

// A scope one feature needs, and the feature's name for the messages that say it is off.
struct scope_need {
    std::string scope;   // "ditioapiv3"
    std::string feature; // "push"
};

// What became of one need with the current token.
struct feature_state {
    std::string feature;
    std::string scope;
    bool on = false;
    std::string reason; // why it is off
};

struct token_settings {
    std::string identity_base;
    std::string client_id;
    std::string client_secret;
    std::string scope;             // ditio.scope as set: asked for as written; empty: negotiated from `needs`
    std::vector<scope_need> needs; // the enabled features' scopes
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

    // True once a token was issued without `scope` (the API that needs it would refuse the token).
    bool lacks(std::string_view scope) const;
    // The scopes the current token carries, space-separated ("nothing yet" before the first token).
    std::string granted_text() const;
    // Each need and whether the current token serves it (all off before the first token).
    std::vector<feature_state> features() const;

    // New credentials (a reloaded configuration or a rotated secret): the cached token is dropped when
    // they differ, so the next request asks for a token with them.
    // `scope` is ditio.scope as set (empty: negotiated).
    void set_credentials(std::string client_id, std::string client_secret, std::string scope);

    // Called after each new token, for metrics.
    void on_refreshed(std::function<void()> f) { on_refreshed_ = std::move(f); }

private:
    // One token request's outcome.
    struct answer {
        boost::system::error_code ec;
        std::string why;        // on failure
        std::string oauth_code; // the OAuth error code of a refusal
        int status = 0;
        std::string token;
        std::int64_t seconds = 0;
        std::optional<std::vector<std::string>> scope_field; // the response's `scope`, when present
    };
    boost::asio::awaitable<answer> request_token(const std::vector<std::string>& scopes);
    boost::asio::awaitable<boost::system::result<std::string>> refresh(std::string* detail);
    // Takes `a`'s token, asked for with `asked`; the error when no need is served.
    boost::system::error_code accept(answer& a, const std::vector<std::string>& asked, std::string& why);
    std::vector<std::string> scopes_to_ask() const;
    void log_refused(const answer& a);
    bool fresh() const;

    http::client& http_;
    token_settings settings_;
    const util::clock& clock_;
    log::logger_ptr log_;
    std::string token_;
    std::optional<std::vector<std::string>> granted_; // the current token's scopes
    std::optional<std::vector<std::string>> split_;   // negotiated: the scopes granted one by one
    std::map<std::string, std::string> refused_;      // scope -> why it is off
    std::set<std::string> announced_;                 // scopes whose feature was said to be off
    std::chrono::steady_clock::time_point started_{};
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

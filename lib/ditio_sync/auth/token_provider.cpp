#include <ditio_sync/auth/token_provider.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/http/url.hpp>
#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/redact.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ditio_sync::auth {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// error_category's destructor is protected and non-virtual by design; instances are never deleted.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "ditio_sync.auth"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::refused:
            return "authentication refused";
        case errc::unavailable:
            return "token endpoint unavailable";
        case errc::cancelled:
            return "cancelled";
        case errc::misconfigured:
            return "TLS or proxy failure";
        }
        return "unknown auth error";
    }
};
#pragma GCC diagnostic pop

// The OAuth error code and its description from a token endpoint's error body, each redacted and cut:
// an identity server may echo the request (client_secret included) in either.
struct oauth_answer {
    std::string code;
    std::string description;
};

oauth_answer oauth_error_of(const std::string& body)
{
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
        return {};
    const auto& o = v.get_object();
    auto text = [&](std::string_view key) {
        auto* x = o.if_contains(key);
        return x && x->is_string() ? util::safe_excerpt(x->get_string(), 512) : std::string{};
    };
    auto description = text("error_description");
    return {text("error"), description.empty() ? text("message") : description};
}

// Ditio documents 1800 s; a token is taken for at least a second and at most a day, whatever expires_in
// says (1e300, -5 and "soon" included).
std::int64_t lifetime_seconds(const json::value* exp)
{
    constexpr std::int64_t fallback = 1800;
    constexpr std::int64_t longest = 86400;
    if (!exp)
        return fallback;
    if (exp->is_int64())
        return std::clamp<std::int64_t>(exp->get_int64(), 1, longest);
    if (exp->is_uint64())
        return exp->get_uint64() > static_cast<std::uint64_t>(longest)
                   ? longest
                   : static_cast<std::int64_t>(exp->get_uint64());
    if (exp->is_double()) {
        auto d = exp->get_double();
        if (std::isnan(d))
            return fallback;
        return static_cast<std::int64_t>(std::clamp(d, 1.0, static_cast<double>(longest)));
    }
    return fallback;
}

std::string advice_for(const std::string& oauth_error)
{
    if (oauth_error == "invalid_client")
        return "the identity server rejected the client: check ditio.client_id and the client secret, and "
               "that the "
               "client belongs to this environment (test and production credentials differ) and is not "
               "disabled";
    if (oauth_error == "invalid_scope")
        return "the client may not request ditio.scope: check that the API client has the scopes configured "
               "(reportingapiv1 for data extraction)";
    if (oauth_error == "unauthorized_client")
        return "the client may not use the client_credentials grant: check the API client in Ditio";
    return "the identity server refused the token request (" + oauth_error + ")";
}

} // namespace

const boost::system::error_category& auth_category() noexcept
{
    static const category c;
    return c;
}

token_provider::token_provider(
    http::client& http, token_settings settings, const util::clock& clock, log::logger_ptr logger
)
    : http_(http), settings_(std::move(settings)), clock_(clock), log_(std::move(logger))
{
    util::secrets().add_secret(settings_.client_secret);
}

bool token_provider::fresh() const
{
    if (token_.empty())
        return false;
    auto margin = std::min<std::chrono::steady_clock::duration>(settings_.max_margin, lifetime_ / 4);
    return clock_.steady_now() + margin < expires_at_;
}

void token_provider::invalidate(const std::string& rejected)
{
    if (token_ == rejected)
        token_.clear();
}

asio::awaitable<boost::system::result<std::string>> token_provider::token(std::string* detail)
{
    for (;;) {
        if (fresh())
            co_return token_;
        if (!refreshing_)
            co_return co_await refresh(detail);
        // Single flight: wait for the refresh in progress, then use its outcome.
        auto generation = refreshes_;
        co_await refresh_done_->async_wait(util::use_nothrow);
        if (!refreshing_ && refreshes_ == generation && last_error_) {
            if (detail)
                *detail = last_detail_;
            co_return last_error_;
        }
    }
}

asio::awaitable<boost::system::result<std::string>> token_provider::refresh(std::string* detail)
{
    refreshing_ = true;
    if (!refresh_done_)
        refresh_done_.emplace(
            co_await asio::this_coro::executor, std::chrono::steady_clock::time_point::max()
        );
    auto finish = [&](boost::system::error_code ec, std::string why) {
        refreshing_ = false;
        last_error_ = ec;
        last_detail_ = std::move(why);
        if (detail && ec)
            *detail = last_detail_;
        refresh_done_->cancel();
    };

    http::request req;
    req.method = boost::beast::http::verb::post;
    req.url = http::join_url(settings_.identity_base, "connect/token");
    // Named in every failure, with the key that sets it: a wrong base is the likeliest cause.
    auto endpoint = fmt::format("token endpoint {} (ditio.identity_base)", req.url);
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.resend_allowed = true; // asking for a token twice only issues two tokens
    req.body = http::form_encode({
        {"grant_type", "client_credentials"},
        {"client_id", settings_.client_id},
        {"client_secret", settings_.client_secret},
        {"scope", settings_.scope},
    });
    auto started = clock_.steady_now();
    boost::system::result<http::response> res = make_error_code(errc::unavailable);
    try {
        res = co_await http_.send(std::move(req));
    } catch (const std::exception& e) {
        // Waiters must never hang on a refresh that died.
        finish(errc::unavailable, fmt::format("{}: {}", endpoint, e.what()));
        throw;
    }
    if (!res) {
        auto kind = http::classify(res.error());
        auto why = fmt::format("{}: {}", endpoint, http::describe(res.error()));
        auto code = kind == http::error_kind::cancelled ? errc::cancelled : errc::unavailable;
        // A TLS or proxy failure is a setting to fix, not weather; it is not a credentials problem either.
        if (kind == http::error_kind::tls || kind == http::error_kind::config)
            code = errc::misconfigured;
        finish(code, why);
        co_return make_error_code(code);
    }
    auto status = res->result_int();
    if (status == 200) {
        boost::system::error_code ec;
        auto v = json::parse(res->body(), ec);
        const json::object* o = (!ec && v.is_object()) ? &v.get_object() : nullptr;
        const json::value* tok = o ? o->if_contains("access_token") : nullptr;
        const json::value* exp = o ? o->if_contains("expires_in") : nullptr;
        if (!tok || !tok->is_string() || tok->get_string().empty()) {
            finish(errc::unavailable, endpoint + " answered 200 without an access_token");
            co_return make_error_code(errc::unavailable);
        }
        auto seconds = lifetime_seconds(exp);
        token_ = std::string(tok->get_string());
        util::secrets().add_token(token_);
        lifetime_ = std::chrono::seconds{seconds};
        expires_at_ = started + lifetime_;
        ++refreshes_;
        log::info(log_, "auth.token_refreshed", {{"expires_in_s", seconds}});
        if (on_refreshed_)
            on_refreshed_();
        finish({}, {});
        co_return token_;
    }
    auto [oauth_code, description] = oauth_error_of(res->body());
    auto said =
        description.empty() ? std::string{} : fmt::format(" (the identity server said: {})", description);
    if ((status == 400 || status == 401 || status == 403) &&
        (oauth_code == "invalid_client" || oauth_code == "invalid_scope" ||
         oauth_code == "unauthorized_client" || oauth_code.empty() || oauth_code == "invalid_grant" ||
         oauth_code == "unsupported_grant_type")) {
        auto why = advice_for(oauth_code.empty() ? fmt::format("HTTP {}", status) : oauth_code) + said;
        log::error(log_, "auth.refused", {{"status", status}, {"error", oauth_code}, {"hint", why}});
        finish(errc::refused, why);
        co_return make_error_code(errc::refused);
    }
    auto why = fmt::format(
        "{} answered HTTP {}{}{}", endpoint, status, oauth_code.empty() ? "" : " " + oauth_code, said
    );
    finish(errc::unavailable, why);
    co_return make_error_code(errc::unavailable);
}

void token_provider::set_credentials(std::string client_id, std::string client_secret, std::string scope)
{
    if (client_id == settings_.client_id && client_secret == settings_.client_secret &&
        scope == settings_.scope)
        return;
    settings_.client_id = std::move(client_id);
    settings_.client_secret = std::move(client_secret);
    util::secrets().add_secret(settings_.client_secret);
    settings_.scope = std::move(scope);
    token_.clear();
    expires_at_ = {};
    last_error_ = {};
    last_detail_.clear();
}

} // namespace ditio_sync::auth

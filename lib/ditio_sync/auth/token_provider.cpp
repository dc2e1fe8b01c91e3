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
               "(reportingapiv1 for data extraction, ditioapiv3 for push), or leave ditio.scope unset";
    if (oauth_error == "unauthorized_client")
        return "the client may not use the client_credentials grant: check the API client in Ditio";
    return "the identity server refused the token request (" + oauth_error + ")";
}

std::vector<std::string> scope_words(std::string_view text)
{
    std::vector<std::string> out;
    while (!text.empty()) {
        auto space = text.find(' ');
        if (auto one = text.substr(0, space);
            !one.empty() && std::find(out.begin(), out.end(), one) == out.end())
            out.emplace_back(one);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    }
    return out;
}

std::string joined(const std::vector<std::string>& words)
{
    return fmt::format("{}", fmt::join(words, " "));
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

std::vector<std::string> token_provider::scopes_to_ask() const
{
    if (!settings_.scope.empty())
        return scope_words(settings_.scope);
    if (split_)
        return *split_;
    std::vector<std::string> out;
    for (const auto& n : settings_.needs)
        if (std::find(out.begin(), out.end(), n.scope) == out.end())
            out.push_back(n.scope);
    return out;
}

asio::awaitable<token_provider::answer> token_provider::request_token(const std::vector<std::string>& scopes)
{
    answer out;
    http::request req;
    req.method = boost::beast::http::verb::post;
    req.url = http::join_url(settings_.identity_base, "connect/token");
    // Named in every failure, with the key that sets it: a wrong base is the likeliest cause.
    auto endpoint = fmt::format("token endpoint {} (ditio.identity_base)", req.url);
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.resend_allowed = true; // asking for a token twice only issues two tokens
    std::vector<std::pair<std::string, std::string>> form{
        {"grant_type", "client_credentials"},
        {"client_id", settings_.client_id},
        {"client_secret", settings_.client_secret},
    };
    if (!scopes.empty())
        form.emplace_back("scope", joined(scopes));
    req.body = http::form_encode(form);
    started_ = clock_.steady_now();
    auto res = co_await http_.send(std::move(req));
    if (!res) {
        auto kind = http::classify(res.error());
        out.why = fmt::format("{}: {}", endpoint, http::describe(res.error()));
        auto code = kind == http::error_kind::cancelled ? errc::cancelled : errc::unavailable;
        // A TLS or proxy failure is a setting to fix, not weather; it is not a credentials problem either.
        if (kind == http::error_kind::tls || kind == http::error_kind::config)
            code = errc::misconfigured;
        out.ec = code;
        co_return out;
    }
    out.status = res->result_int();
    if (out.status == 200) {
        boost::system::error_code ec;
        auto v = json::parse(res->body(), ec);
        const json::object* o = (!ec && v.is_object()) ? &v.get_object() : nullptr;
        const json::value* tok = o ? o->if_contains("access_token") : nullptr;
        const json::value* exp = o ? o->if_contains("expires_in") : nullptr;
        if (!tok || !tok->is_string() || tok->get_string().empty()) {
            out.ec = errc::unavailable;
            out.why = endpoint + " answered 200 without an access_token";
            co_return out;
        }
        out.token = std::string(tok->get_string());
        util::secrets().add_token(out.token);
        out.seconds = lifetime_seconds(exp);
        if (const json::value* sc = o->if_contains("scope"); sc && sc->is_string())
            out.scope_field = scope_words(sc->get_string());
        co_return out;
    }
    auto [oauth_code, description] = oauth_error_of(res->body());
    out.oauth_code = oauth_code;
    auto said =
        description.empty() ? std::string{} : fmt::format(" (the identity server said: {})", description);
    if ((out.status == 400 || out.status == 401 || out.status == 403) &&
        (oauth_code == "invalid_client" || oauth_code == "invalid_scope" ||
         oauth_code == "unauthorized_client" || oauth_code.empty() || oauth_code == "invalid_grant" ||
         oauth_code == "unsupported_grant_type")) {
        out.ec = errc::refused;
        out.why = advice_for(oauth_code.empty() ? fmt::format("HTTP {}", out.status) : oauth_code) + said;
        co_return out;
    }
    out.ec = errc::unavailable;
    out.why = fmt::format(
        "{} answered HTTP {}{}{}", endpoint, out.status, oauth_code.empty() ? "" : " " + oauth_code, said
    );
    co_return out;
}

boost::system::error_code
token_provider::accept(answer& a, const std::vector<std::string>& asked, std::string& why)
{
    // RFC 6749 5.1: `scope` may be left out only when it is what was asked for.
    auto granted = a.scope_field ? *a.scope_field : asked;
    for (const auto& s : asked)
        if (std::find(granted.begin(), granted.end(), s) == granted.end() && !refused_.contains(s))
            refused_[s] = fmt::format(
                "the identity server granted '{}' when asked for '{}'", joined(granted), joined(asked)
            );
    bool any = settings_.needs.empty();
    for (const auto& n : settings_.needs) {
        if (std::find(granted.begin(), granted.end(), n.scope) != granted.end()) {
            any = true;
            continue;
        }
        if (announced_.insert(n.scope).second) {
            auto reason = refused_.contains(n.scope)
                              ? refused_[n.scope]
                              : fmt::format("ditio.scope ('{}') does not include it", settings_.scope);
            log::warn(
                log_,
                "auth.feature_off",
                {{"feature", n.feature},
                 {"scope", n.scope},
                 {"asked", joined(asked)},
                 {"granted", joined(granted)},
                 {"reason", reason}}
            );
        }
    }
    if (!any) {
        std::vector<std::string> wanted;
        for (const auto& n : settings_.needs)
            wanted.push_back(n.scope);
        why = fmt::format(
            "the API client was granted none of the scopes the enabled features need ({}); asked for '{}', "
            "granted '{}': give the client these scopes in Ditio (or check ditio.scope)",
            joined(wanted),
            joined(asked),
            joined(granted)
        );
        log::error(log_, "auth.refused", {{"status", a.status}, {"error", "invalid_scope"}, {"hint", why}});
        return errc::refused;
    }
    token_ = std::move(a.token);
    granted_ = std::move(granted);
    lifetime_ = std::chrono::seconds{a.seconds};
    expires_at_ = started_ + lifetime_;
    ++refreshes_;
    log::info(log_, "auth.token_refreshed", {{"expires_in_s", a.seconds}, {"scope", granted_text()}});
    if (on_refreshed_)
        on_refreshed_();
    return {};
}

void token_provider::log_refused(const answer& a)
{
    log::error(log_, "auth.refused", {{"status", a.status}, {"error", a.oauth_code}, {"hint", a.why}});
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

    try {
        auto asked = scopes_to_ask();
        auto a = co_await request_token(asked);
        std::string why;
        if (!a.ec) {
            auto ec = accept(a, asked, why);
            finish(ec, why);
            co_return ec ? boost::system::result<std::string>(ec) : token_;
        }
        // invalid_scope for the features' scopes together: ask for each alone (RFC 6749 5.2's error code,
        // never the description's words). An explicit ditio.scope is asked for as written, and only that.
        if (a.ec != errc::refused || a.oauth_code != "invalid_scope" || !settings_.scope.empty() ||
            asked.size() < 2) {
            if (a.ec == errc::refused)
                log_refused(a);
            finish(a.ec, a.why);
            co_return a.ec;
        }
        std::vector<std::string> alone;
        std::optional<answer> first;
        for (const auto& s : asked) {
            // Named: GCC 12 mishandles a braced list inside a co_await expression.
            std::vector<std::string> just(1, s);
            auto one = co_await request_token(just);
            if (!one.ec) {
                alone.push_back(s);
                if (!first)
                    first = std::move(one);
            } else if (one.ec == errc::refused && one.oauth_code == "invalid_scope") {
                refused_[s] = "the identity server refused it (invalid_scope) for this client";
            } else {
                if (one.ec == errc::refused)
                    log_refused(one);
                finish(one.ec, one.why);
                co_return one.ec;
            }
        }
        if (!first) {
            why = fmt::format(
                "the identity server refused every scope the enabled features need with invalid_scope "
                "(tried '{}', then each alone): give the API client these scopes in Ditio",
                joined(asked)
            );
            a.why = why;
            log_refused(a);
            finish(errc::refused, why);
            co_return make_error_code(errc::refused);
        }
        split_ = alone;
        if (alone.size() > 1) {
            // Granted one by one but not together: one token for them all is worth one more question.
            auto together = co_await request_token(alone);
            if (!together.ec) {
                auto ec = accept(together, alone, why);
                finish(ec, why);
                co_return ec ? boost::system::result<std::string>(ec) : token_;
            }
            for (std::size_t i = 1; i < alone.size(); ++i)
                refused_[alone[i]] = "the identity server grants it alone but not together with " + alone[0];
            split_ = std::vector<std::string>{alone[0]};
        }
        auto ec = accept(*first, *split_, why);
        finish(ec, why);
        co_return ec ? boost::system::result<std::string>(ec) : token_;
    } catch (const std::exception& e) {
        // Waiters must never hang on a refresh that died.
        finish(errc::unavailable, e.what());
        throw;
    }
}

bool token_provider::lacks(std::string_view scope) const
{
    return granted_ && std::find(granted_->begin(), granted_->end(), scope) == granted_->end();
}

std::string token_provider::granted_text() const
{
    if (!granted_)
        return "nothing yet";
    return granted_->empty() ? std::string("no scope") : joined(*granted_);
}

std::vector<feature_state> token_provider::features() const
{
    std::vector<feature_state> out;
    for (const auto& n : settings_.needs) {
        feature_state f{n.feature, n.scope, granted_ && !lacks(n.scope), {}};
        if (!f.on) {
            auto it = refused_.find(n.scope);
            f.reason = !granted_ ? std::string("no token yet")
                       : it != refused_.end()
                           ? it->second
                           : fmt::format("ditio.scope ('{}') does not include it", settings_.scope);
        }
        out.push_back(std::move(f));
    }
    return out;
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
    granted_.reset();
    split_.reset();
    refused_.clear();
    announced_.clear();
    expires_at_ = {};
    last_error_ = {};
    last_detail_.clear();
}

} // namespace ditio_sync::auth

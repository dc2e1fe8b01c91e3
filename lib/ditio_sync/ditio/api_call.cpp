#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <boost/json/parse.hpp>
#include <boost/throw_exception.hpp>
#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace ditio_sync::ditio {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::field;

void throw_exception_from_error(const fetch_failure& f, const boost::source_location& loc)
{
    boost::throw_exception(std::runtime_error(f.message), loc);
}

std::string describe_error_body(int status, const std::string& body)
{
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (!ec && v.is_object()) {
        const auto& o = v.get_object();
        std::string out = fmt::format("HTTP {}", status);
        // Each piece is redacted and cut before the next is added: a 50 MB message costs no 50 MB string,
        // and no cut can leave the start of a token behind.
        auto add = [&](std::string_view sep, std::string_view text) {
            if (out.size() < util::max_excerpt_bytes)
                out += fmt::format("{}{}", sep, util::safe_excerpt(text, util::max_excerpt_bytes));
        };
        if (auto* e = o.if_contains("error"); e && e->is_string())
            add(" ", e->get_string());
        if (auto* m = o.if_contains("message"); m && m->is_string())
            add(": ", m->get_string());
        // application/problem+json (ASP.NET's model validation): a title, perhaps a detail, and `errors` as
        // an object of field -> messages, where the simple shape has `errors` as an array of objects.
        for (const char* key : {"title", "detail"})
            if (auto* t = o.if_contains(key); t && t->is_string())
                add(out.find(':') == std::string::npos ? ": " : "; ", t->get_string());
        if (auto* errs = o.if_contains("errors"); errs && errs->is_array()) {
            for (const auto& item : errs->get_array())
                if (auto* m = item.is_object() ? item.get_object().if_contains("message") : nullptr;
                    m && m->is_string())
                    add("; ", m->get_string());
        } else if (errs && errs->is_object()) {
            for (const auto& [field, messages] : errs->get_object())
                if (const auto* list = messages.if_array())
                    for (const auto& m : *list)
                        if (m.is_string())
                            add("; ",
                                fmt::format(
                                    "{}: {}", std::string_view(field), std::string_view(m.get_string())
                                ));
        }
        return util::safe_excerpt(out, util::max_excerpt_bytes);
    }
    // An excerpt of an HTML page or plain text, printable ASCII only, so it cannot break a JSON log line or
    // split a UTF-8 character. Redacted before it is cut: an intermediary may echo the request's headers.
    constexpr std::size_t excerpt_bytes = 200;
    std::string head = body.substr(0, excerpt_bytes + 4096);
    for (auto& c : head)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            c = ' ';
    auto redacted = util::secrets().redact(head, head.size() < body.size());
    auto excerpt = util::clip(redacted, excerpt_bytes, redacted.size() + (body.size() - head.size()));
    return excerpt.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, excerpt);
}

bool is_ditio_error_body(std::string_view body)
{
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return !ec && v.is_object();
}

std::optional<fetch_failure> not_ditio_failure(
    const http::response& res, std::string_view key, std::string_view base, std::string_view url
)
{
    int status = res.result_int();
    if ((status != 404 && status != 405) || is_ditio_error_body(res.body()))
        return std::nullopt;
    auto answer = describe_error_body(status, res.body());
    return fetch_failure{
        fetch_errc::not_ditio,
        fmt::format(
            "{}: {} does not look like Ditio's API: {} answered {}{}, not Ditio's JSON error; check {} "
            "(Ditio's "
            "documentation and its samples name different addresses, see docs/live-ditio.md)",
            key,
            util::safe_excerpt(base, 200),
            util::safe_excerpt(url, 300),
            answer,
            res.body().empty() ? " with an empty body" : "",
            key
        ),
        status};
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, util::sys_micros now)
{
    if (value.empty())
        return std::nullopt;
    std::int64_t seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc{} && p == value.data() + value.size() && seconds >= 0)
        return std::chrono::seconds{std::min<std::int64_t>(seconds, 86'400)}; // no overflow in ms

    if (auto when = util::parse_http_date(value)) {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*when - now);
        return std::max(d, std::chrono::milliseconds{0});
    }
    return std::nullopt;
}

api_caller::api_caller(
    http::client& http,
    auth::token_provider& tokens,
    retry_settings retry,
    util::stop_source& stop,
    const util::clock& clock,
    log::logger_ptr logger,
    std::uint64_t seed,
    std::string scope,
    std::string subject_key
)
    : http_(http), tokens_(tokens), retry_(retry), stop_(stop), clock_(clock), log_(std::move(logger)),
      backoff_(retry.initial, retry.max, seed), scope_(std::move(scope)), subject_key_(std::move(subject_key))
{
}

namespace {

// A token the provider could not get: the failure that ends the call, or nullopt when asking again may help.
std::optional<fetch_failure> token_failure(const boost::system::error_code& e, const std::string& detail)
{
    if (e == auth::errc::refused)
        return fetch_failure{fetch_errc::auth_refused, detail, 0};
    if (e == auth::errc::cancelled)
        return fetch_failure{fetch_errc::cancelled, "stopped", 0};
    if (e == auth::errc::misconfigured)
        return fetch_failure{fetch_errc::misconfigured, detail, 0};
    return std::nullopt;
}

} // namespace

fetch_failure api_caller::scope_missing() const
{
    return {
        fetch_errc::scope_missing,
        fmt::format(
            "the API client was not granted the {} scope (it was granted: {}): give the client the scope in "
            "Ditio, or leave this feature off",
            scope_,
            tokens_.granted_text()
        ),
        0};
}

// A 429's Retry-After, relative to the answer's own Date when it has one (so a skewed clock does not
// stretch or shrink the wait).
std::optional<std::chrono::milliseconds> api_caller::retry_after_of(const http::response& res) const
{
    auto it = res.find(field::retry_after);
    if (it == res.end())
        return std::nullopt;
    auto now = std::chrono::time_point_cast<std::chrono::microseconds>(clock_.system_now());
    std::optional<util::sys_micros> date;
    if (auto d = res.find(field::date); d != res.end())
        date = util::parse_http_date(d->value());
    return parse_retry_after(it->value(), date.value_or(now));
}

asio::awaitable<boost::system::result<http::response, fetch_failure>> api_caller::call(
    std::string_view subject,
    const http::request& req,
    retry_budget& budget,
    const answer_judge& judge,
    resend policy
)
{
    bool refreshed_after_401 = false;
    int failures = 0;
    // Retry-After is honoured up to this bound; a longer ask is clamped to it.
    constexpr auto max_retry_after = std::chrono::minutes{15};

    for (;;) {
        if (stop_.stop_requested())
            co_return fetch_failure{fetch_errc::cancelled, "stopped", 0};

        std::string why;
        std::optional<std::chrono::milliseconds> wait;
        int status = 0;
        bool maybe_applied = false; // the request went out and its outcome is unknown

        std::string detail;
        auto tok = co_await tokens_.token(&detail);
        if (!tok) {
            if (auto final = token_failure(tok.error(), detail))
                co_return std::move(*final);
            why = detail;
        } else if (tokens_.lacks(scope_)) {
            co_return scope_missing();
        } else {
            auto attempt = req;
            attempt.headers.emplace_back("Authorization", "Bearer " + *tok);
            auto res = co_await http_.send(std::move(attempt));
            if (!res) {
                auto kind = http::classify(res.error());
                if (kind == http::error_kind::cancelled)
                    co_return fetch_failure{fetch_errc::cancelled, "stopped", 0};
                if (kind == http::error_kind::tls || kind == http::error_kind::config)
                    co_return fetch_failure{fetch_errc::misconfigured, http::describe(res.error()), 0};
                why = http::describe(res.error());
                maybe_applied = true;
            } else {
                status = res->result_int();
                if (status == 401) {
                    if (refreshed_after_401)
                        co_return fetch_failure{
                            fetch_errc::auth_refused,
                            fmt::format(
                                "Ditio answered 401 to a freshly issued token: the API client may be "
                                "disabled "
                                "or expired, lack the {} scope, or its user may be disabled ({})",
                                scope_,
                                describe_error_body(status, res->body())
                            ),
                            status};
                    // An expired or revoked token: refresh once and retry once, never in a loop.
                    refreshed_after_401 = true;
                    tokens_.invalidate(*tok);
                    log::warn(log_, "auth.token_rejected", {{subject_key_, subject}, {"status", status}});
                    continue;
                } else if (status == 429) {
                    why = "rate limited (HTTP 429)";
                    wait = retry_after_of(*res);
                } else if (status >= 500 || status == 408) {
                    why = describe_error_body(status, res->body());
                    maybe_applied = true;
                } else {
                    auto v = judge(*res);
                    if (v.what == verdict::kind::accept)
                        co_return std::move(*res);
                    if (v.what == verdict::kind::fail)
                        co_return fetch_failure{v.code, std::move(v.reason), status};
                    why = std::move(v.reason);
                    maybe_applied = true;
                }
            }
        }

        if (maybe_applied && policy == resend::never)
            co_return fetch_failure{fetch_errc::uncertain, why, status};
        if (failures >= retry_.max_retries)
            co_return fetch_failure{
                fetch_errc::unavailable,
                fmt::format("gave up after {} attempts: {}", failures + 1, why),
                status};
        if (budget.remaining <= 0)
            co_return fetch_failure{
                fetch_errc::unavailable, fmt::format("the retry budget is spent: {}", why), status};
        --budget.remaining;
        auto delay = wait ? std::min<std::chrono::milliseconds>(*wait, max_retry_after)
                          : backoff_.delay(static_cast<unsigned>(failures));
        ++failures;
        if (on_retry_)
            on_retry_(subject);
        log::warn(
            log_,
            "http.retry",
            {{subject_key_, subject},
             {"attempt", failures},
             {"status", status},
             {"reason", why},
             {"delay_ms", delay.count()}}
        );
        if (!co_await stop_.sleep_for(delay))
            co_return fetch_failure{fetch_errc::cancelled, "stopped", 0};
    }
}

} // namespace ditio_sync::ditio

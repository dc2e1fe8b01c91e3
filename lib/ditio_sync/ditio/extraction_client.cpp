#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/http/url.hpp>
#include <ditio_sync/util/redact.hpp>

#include <fmt/format.h>

namespace ditio_sync::ditio {

namespace asio = boost::asio;
using boost::beast::http::field;

extraction_client::extraction_client(
    http::client& http,
    auth::token_provider& tokens,
    std::string reporting_base,
    retry_settings retry,
    util::stop_source& stop,
    const util::clock& clock,
    log::logger_ptr logger,
    std::uint64_t seed
)
    : caller_(http, tokens, retry, stop, clock, std::move(logger), seed, "reportingapiv1", "stream"),
      base_(std::move(reporting_base))
{
}

asio::awaitable<boost::system::result<fetched_page, fetch_failure>> extraction_client::fetch_page(
    std::string_view stream,
    std::string_view path,
    const query& params,
    const std::optional<std::string>& continuation,
    retry_budget& budget
)
{
    auto q = params;
    if (continuation)
        q.emplace_back("ContinuationToken", *continuation);
    http::request req;
    req.url = http::with_query(http::join_url(base_, path), q);
    std::optional<fetched_page> out;
    const auto* def = find_stream(stream);
    const auto* parent = def ? def->parent : nullptr;
    auto judge = [&](http::response& res) -> verdict {
        int status = res.result_int();
        if (status == 200) {
            auto content_type = res.find(field::content_type);
            if (content_type != res.end() && content_type->value().find("json") == std::string_view::npos)
                // An HTML error page from a proxy, typically: never parsed, never committed.
                return {
                    verdict::kind::retry,
                    fmt::format(
                        "unexpected content type '{}'", util::safe_excerpt(content_type->value(), 80)
                    )};
            out.emplace();
            if (auto it = res.find(field::date); it != res.end())
                out->server_date = util::parse_http_date(it->value());
            out->bytes = res.body().size();
            std::string parse_error;
            if (parse_page(std::move(res.body()), out->body, parse_error, parent))
                return {};
            out.reset();
            return {verdict::kind::retry, "malformed page: " + parse_error};
        }
        // Something other than Ditio answered at this address: the base is wrong, not the stream missing.
        if (auto foreign = not_ditio_failure(res, "ditio.reporting_base", base_, req.url))
            return {verdict::kind::fail, std::move(foreign->message), fetch_errc::not_ditio};
        if (status == 403)
            return {
                verdict::kind::fail,
                "Ditio answered 403: the API client lacks permission for this data (check its scopes and "
                "that it is linked to an administrator) (" +
                    describe_error_body(status, res.body()) + ")",
                fetch_errc::auth_refused};
        if (status == 400 && continuation)
            return {verdict::kind::fail, describe_error_body(status, res.body()), fetch_errc::token_rejected};
        return {verdict::kind::fail, describe_error_body(status, res.body()), fetch_errc::bad_request};
    };
    auto res = co_await caller_.call(stream, req, budget, judge);
    if (!res)
        co_return res.error();
    co_return std::move(*out);
}

} // namespace ditio_sync::ditio

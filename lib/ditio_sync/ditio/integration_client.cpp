#include <ditio_sync/ditio/integration_client.hpp>
#include <ditio_sync/http/url.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace ditio_sync::ditio {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::beast::http::verb;

integration_client::integration_client(
    http::client& http,
    auth::token_provider& tokens,
    std::string api_base,
    retry_settings retry,
    util::stop_source& stop,
    const util::clock& clock,
    log::logger_ptr logger,
    std::uint64_t seed
)
    : caller_(http, tokens, retry, stop, clock, std::move(logger), seed, "ditioapiv3", "outbox"),
      base_(std::move(api_base))
{
}

asio::awaitable<api_result<json::value>> integration_client::exchange(
    std::string_view what,
    verb method,
    const std::string& path,
    const json::object* body,
    retry_budget& budget,
    exchange_options options
)
{
    http::request req;
    req.method = method;
    req.url = http::join_url(base_, path);
    if (body) {
        req.body = json::serialize(*body);
        req.headers.emplace_back("Content-Type", "application/json");
    }
    req.headers.emplace_back("Accept", "application/json");
    json::value answer;
    auto judge = [&](http::response& res) -> verdict {
        int status = res.result_int();
        if (options.status)
            *options.status = status;
        // Something other than Ditio answered at this address: the base is wrong, whatever the row holds.
        if (auto foreign = not_ditio_failure(res, "ditio.api_base", base_, req.url))
            return {verdict::kind::fail, std::move(foreign->message), fetch_errc::not_ditio};
        if (status == 404 && options.absent_ok) {
            answer = nullptr;
            return {};
        }
        if (status >= 200 && status < 300) {
            if (res.body().empty()) {
                answer = json::object{};
                return {};
            }
            boost::system::error_code ec;
            answer = json::parse(res.body(), ec);
            if (ec)
                // Cut off or mangled on the way: asking again is safe, every call here is idempotent or
                // looked up before it is repeated.
                return {verdict::kind::retry, fmt::format("unreadable answer: {}", ec.message())};
            return {};
        }
        if (status == 403)
            // The client may not write here at all (the ditioapiv3 scope, or an administrator-linked client):
            // every row would meet the same answer, so it is no row's fault.
            return {
                verdict::kind::fail,
                fmt::format(
                    "Ditio answered 403 to the Integration API: the API client lacks the ditioapiv3 scope or "
                    "the rights to write there ({})",
                    describe_error_body(status, res.body())
                ),
                fetch_errc::scope_missing};
        return {verdict::kind::fail, describe_error_body(status, res.body()), fetch_errc::bad_request};
    };
    auto res = co_await caller_.call(what, req, budget, judge, options.policy);
    if (!res)
        co_return res.error();
    co_return std::move(answer);
}

namespace {

api_result<json::object> as_object(api_result<json::value> r, std::string_view what)
{
    if (!r)
        return r.error();
    if (auto* o = r->if_object())
        return std::move(*o);
    return fetch_failure{
        fetch_errc::unavailable, fmt::format("{}: Ditio's answer is not a JSON object", what), 0};
}

} // namespace

asio::awaitable<api_result<json::object>>
integration_client::create_project(const json::object& body, retry_budget& budget, bool& created)
{
    int status = 0;
    auto r = as_object(
        co_await exchange(
            "projects", verb::post, "api/v4/integration/projects", &body, budget, {.status = &status}
        ),
        "project create"
    );
    created = status == 201;
    co_return r;
}

asio::awaitable<api_result<std::optional<json::object>>>
integration_client::project_by_number(const std::string& number, retry_budget& budget)
{
    auto r = co_await exchange(
        "projects",
        verb::get,
        "api/v4/integration/projects/by-project-number/" + http::path_segment(number),
        nullptr,
        budget,
        {.absent_ok = true}
    );
    if (!r)
        co_return r.error();
    if (r->is_null())
        co_return std::optional<json::object>{};
    if (auto* o = r->if_object())
        co_return std::optional<json::object>{std::move(*o)};
    co_return fetch_failure{
        fetch_errc::unavailable, "project lookup: Ditio's answer is not a JSON object", 0};
}

asio::awaitable<api_result<json::object>>
integration_client::patch_project(const std::string& id, const json::object& changes, retry_budget& budget)
{
    co_return as_object(
        co_await exchange(
            "projects", verb::patch, "api/v4/integration/projects/" + http::path_segment(id), &changes, budget
        ),
        "project update"
    );
}

asio::awaitable<api_result<json::array>>
integration_client::project_tasks(const std::string& project_id, retry_budget& budget)
{
    auto r = co_await exchange(
        "work_orders",
        verb::get,
        "api/v4/integration/tasks/project/" + http::path_segment(project_id),
        nullptr,
        budget
    );
    if (!r)
        co_return r.error();
    if (auto* a = r->if_array())
        co_return std::move(*a);
    co_return fetch_failure{
        fetch_errc::unavailable, "work order list: Ditio's answer is not a JSON array", 0};
}

asio::awaitable<api_result<json::object>>
integration_client::create_task(const json::object& body, retry_budget& budget)
{
    co_return as_object(
        co_await exchange(
            "work_orders", verb::post, "api/v4/integration/tasks", &body, budget, {.policy = resend::never}
        ),
        "work order create"
    );
}

asio::awaitable<api_result<json::object>>
integration_client::patch_task(const std::string& id, const json::object& changes, retry_budget& budget)
{
    co_return as_object(
        co_await exchange(
            "work_orders", verb::patch, "api/v4/integration/tasks/" + http::path_segment(id), &changes, budget
        ),
        "work order update"
    );
}

} // namespace ditio_sync::ditio

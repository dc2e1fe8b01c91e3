// Fetches pages from the Data Extraction API with the shared retry policy (api_call.hpp); a malformed page or
// a 200 that is not JSON is retried like a 5xx; 403 is refused like a second 401.
//
// Errors: result<fetched_page, fetch_failure>, see fetch_errc.
// Thread safety: one client per single-threaded executor.
#pragma once

#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/ditio/page.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ditio_sync::ditio {

struct fetched_page {
    page body;
    std::optional<util::sys_micros> server_date; // the response's Date header
    std::size_t bytes = 0;
};

using query = std::vector<std::pair<std::string, std::string>>;

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
    void on_retry(std::function<void(std::string_view stream)> f) { caller_.on_retry(std::move(f)); }

private:
    api_caller caller_;
    std::string base_;
};

} // namespace ditio_sync::ditio

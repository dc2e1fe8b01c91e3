// The Integration API calls the outbox needs (ditio-api.md 4.1-4.3): create, find and PATCH projects and
// work orders. Never PUT (it wipes omitted fields) and never DELETE (it cascades); deactivate with
// `active: false` instead. Requests go through the shared retry policy (api_call.hpp), so 5xx, 429, resets
// and timeouts are retried; any other 4xx comes back as bad_request with Ditio's message, except a 404 or 405
// that is not Ditio's JSON error (not_ditio: ditio.api_base is wrong) and a 403 (scope_missing: the client
// may not write there at all).
//
// Errors: result<..., fetch_failure>.
// Thread safety: one client per single-threaded executor.
#pragma once

#include <ditio_sync/ditio/api_call.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>

namespace ditio_sync::ditio {

template <class T> using api_result = boost::system::result<T, fetch_failure>;

// How integration_client sends one request.
struct exchange_options {
    bool absent_ok = false; // a 404 comes back as null
    int* status = nullptr;  // receives the answer's status
    resend policy = resend::allowed;
};

class integration_client {
public:
    integration_client(
        http::client& http,
        auth::token_provider& tokens,
        std::string api_base,
        retry_settings retry,
        util::stop_source& stop,
        const util::clock& clock,
        log::logger_ptr logger,
        std::uint64_t seed
    );

    // POST projects: creates the project (`created` set), or returns the existing one with that number
    // unchanged.
    boost::asio::awaitable<api_result<boost::json::object>>
    create_project(const boost::json::object& body, retry_budget& budget, bool& created);
    // GET projects/by-project-number/{n}; nullopt when Ditio answers 404.
    boost::asio::awaitable<api_result<std::optional<boost::json::object>>>
    project_by_number(const std::string& number, retry_budget& budget);
    boost::asio::awaitable<api_result<boost::json::object>>
    patch_project(const std::string& id, const boost::json::object& changes, retry_budget& budget);

    // GET tasks/project/{projectId}: every work order of the project.
    boost::asio::awaitable<api_result<boost::json::array>>
    project_tasks(const std::string& project_id, retry_budget& budget);
    // POST tasks. Ditio does not document it as idempotent, so it is never repeated once it may have been
    // applied: that comes back as `uncertain`, and the caller looks the work order up before posting again.
    boost::asio::awaitable<api_result<boost::json::object>>
    create_task(const boost::json::object& body, retry_budget& budget);
    boost::asio::awaitable<api_result<boost::json::object>>
    patch_task(const std::string& id, const boost::json::object& changes, retry_budget& budget);

    void on_retry(std::function<void(std::string_view)> f) { caller_.on_retry(std::move(f)); }

    // ditio.api_base, as configured.
    const std::string& base() const { return base_; }

    // The wait before the caller repeats something itself (a create it verified did not happen): the
    // shared retry policy's.
    std::chrono::milliseconds retry_delay(unsigned attempt) { return caller_.retry_delay(attempt); }

private:
    // One request; the answer's JSON (an empty object for an empty 2xx body).
    boost::asio::awaitable<api_result<boost::json::value>> exchange(
        std::string_view what,
        boost::beast::http::verb method,
        const std::string& path,
        const boost::json::object* body,
        retry_budget& budget,
        exchange_options options = {}
    );

    api_caller caller_;
    std::string base_;
};

} // namespace ditio_sync::ditio

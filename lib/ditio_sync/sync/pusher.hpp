// Pushes the outbox to the Integration API, exactly once per change: projects first (POST, idempotent on
// the project number, then PATCH of the fields Ditio's copy lacks), then work orders (looked up among their
// project's work orders by externalId, then PATCHed, or POSTed when new). A crash between a request and
// the recording of its outcome repeats the lookup, never the creation.
//
// Outcomes per row: sent (with the Ditio id), failed (a 4xx in Ditio's JSON: Ditio's message kept, not
// retried until the row changes), or still pending (Ditio unreachable, the work order's project not pushed
// yet, ditio.api_base answering with something that is not Ditio, or a client without ditioapiv3).
//
// Thread safety: one pusher per single-threaded executor; the store work runs on the db_worker thread.
#pragma once

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/integration_client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/file_watch.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ditio_sync::sync {

struct push_settings {
    std::chrono::milliseconds interval =
        config::push_section{}.interval; // pending rows are retried this often
    std::chrono::milliseconds check_every =
        config::push_section{}.check_every;                     // how often the outbox is read
    int retry_budget = config::http_section{}.run_retry_budget; // retries of all requests of one pass
    ditio::retry_settings retry; // how often a work order create that may have failed is repeated
};

struct push_report {
    int sent = 0;
    int failed = 0;
    int pending = 0;            // left pending: Ditio unreachable, or waiting for its project
    bool auth_refused = false;  // the credentials or the ditioapiv3 scope were refused: exit code 3
    bool misconfigured = false; // ditio.api_base does not serve Ditio's API (not_ditio): exit code 2
    bool feature_off = false;   // the API client lacks the ditioapiv3 scope (scope_missing): exit code 3
    bool cancelled = false;
    std::string error; // the failure that ended the pass early, if one did
};

// Just one row (`push project`, `push work-order`); a work order brings its pending project along.
struct push_target {
    store::outbox_kind kind = store::outbox_kind::project;
    std::int64_t id = 0;
};

class pusher {
public:
    pusher(
        ditio::integration_client& api,
        db_worker& db,
        const util::clock& clock,
        util::stop_source& stop,
        log::logger_ptr logger,
        push_settings settings
    );

    // One pass over the pending rows (or just `only`). Throws store::db_error.
    boost::asio::awaitable<push_report> push_pending(std::optional<push_target> only = std::nullopt);

    // The daemon's loop until stop: a pass when the outbox changed (PRAGMA data_version, checked every
    // check_every, or after a write to the watched file), and every interval while rows are pending.
    boost::asio::awaitable<void> run();

    void set_settings(push_settings s) { settings_ = s; }

    // Called after each of the daemon's passes (run()), for health and metrics.
    void on_pass(std::function<void(const push_report&)> f) { on_pass_ = std::move(f); }

    // Wait for writes to this file (the database's write-ahead log) instead of looking every check_every:
    // an idle daemon then wakes only when someone commits, or when a pass is due. Set before run().
    void watch(util::file_watch* w);

private:
    struct pass;
    // Sleeps until the outbox may have changed (a write to the watched file, or check_every without one)
    // or `due`; false on stop.
    boost::asio::awaitable<bool>
    wait_for_change(std::chrono::steady_clock::time_point due, bool nothing_pending);
    boost::asio::awaitable<bool> push_project(pass& p, const store::outbox_row& row);
    boost::asio::awaitable<bool> push_work_order(pass& p, const store::outbox_row& row);

    // A work order's project in Ditio: its id, or none, with what the pass does next (record_failure's
    // answer, or true when the row waits for its project).
    struct project_lookup {
        std::optional<std::string> id;
        bool go_on = true;
    };
    boost::asio::awaitable<project_lookup> resolve_project(pass& p, const store::outbox_row& row);
    // Reads the project's work orders into the pass, by externalId.
    boost::asio::awaitable<std::optional<ditio::fetch_failure>>
    index_tasks(pass& p, const std::string& project_id);
    static std::optional<boost::json::object>
    find_task(const pass& p, const std::string& project_id, const std::string& external_id);
    // PATCHes the fields of `existing` that differ from the row's.
    boost::asio::awaitable<bool> update_task(
        pass& p,
        const store::outbox_row& row,
        const std::string& project_id,
        const boost::json::object& existing
    );
    // POSTs the work order; after an answer that may hide a create, looks before it asks again.
    boost::asio::awaitable<bool>
    create_task_verified(pass& p, const store::outbox_row& row, const std::string& project_id);
    // Records a failed request's outcome for the row; false when the pass must end.
    boost::asio::awaitable<bool>
    record_failure(pass& p, const store::outbox_row& row, const ditio::fetch_failure& f);
    boost::asio::awaitable<void>
    record_sent(pass& p, const store::outbox_row& row, const std::string& ditio_id, std::string_view action);
    std::string now_text() const;

    ditio::integration_client& api_;
    db_worker& db_;
    const util::clock& clock_;
    util::stop_source& stop_;
    log::logger_ptr log_;
    push_settings settings_;
    util::file_watch* watch_ = nullptr;
    std::function<void(const push_report&)> on_pass_;
    bool feature_off_said_ = false; // push.feature_off at warning once, then debug
};

// The fields of `desired` that `actual` lacks or holds a different value for (numbers compare by value).
boost::json::object changed_fields(const boost::json::object& desired, const boost::json::object& actual);

} // namespace ditio_sync::sync

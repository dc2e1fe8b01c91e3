// A run's page commits, one at a time on the database thread while the next page is fetched: launch()
// hands a page and what its transaction writes over; settle() waits until it is over. A commit that meets
// another process's write lock beyond storage.busy_timeout is tried again, a few times with backoff
// (store.busy_retry), before it counts as failed; the checkpoint stays at the previous page meanwhile.
//
// Thread safety: launch() and settle() on the io_context thread the committer was made for.
#pragma once

#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/util/backoff.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace ditio_sync::sync {

// One page's transaction: the page and its checkpoint, and on the run's last page (only there) what the
// run's end writes.
struct page_transaction {
    store::page_commit page;
    std::optional<store::run_end> end;
};

// How the commit in flight ended.
struct settled_commit {
    std::shared_ptr<const ditio::fetched_page> page; // null when no commit was in flight
    store::commit_result result;
    std::chrono::steady_clock::duration took{}; // from launch to the end of the last attempt
    std::string error;                          // set when it failed: the database is unusable
};

class page_committer {
public:
    // `attempts`: tries of one commit against another writer's lock. `stream` and `run_id` name the run
    // in store.busy_retry lines.
    page_committer(
        db_worker& db,
        boost::asio::any_io_executor io,
        const util::clock& clock,
        util::stop_source& stop,
        unsigned attempts,
        log::logger_ptr logger,
        std::string stream,
        std::int64_t run_id
    );
    ~page_committer();
    page_committer(const page_committer&) = delete;
    page_committer& operator=(const page_committer&) = delete;

    // Starts committing `page` with `tx` (whose records point into the page). The previous commit must be
    // settled.
    void launch(std::shared_ptr<const ditio::fetched_page> page, page_transaction tx);

    // Waits for the commit in flight, trying again while another writer holds the lock (unless a stop is
    // requested), and says how it ended.
    boost::asio::awaitable<settled_commit> settle();

private:
    struct pending;
    void start(const std::shared_ptr<pending>& p);

    db_worker& db_;
    boost::asio::any_io_executor io_;
    const util::clock& clock_;
    util::stop_source& stop_;
    unsigned attempts_;
    log::logger_ptr log_;
    std::string stream_;
    std::int64_t run_id_;
    util::backoff busy_backoff_;
    std::shared_ptr<pending> pending_;
};

} // namespace ditio_sync::sync

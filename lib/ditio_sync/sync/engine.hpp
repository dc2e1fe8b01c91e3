// One run of one stream, the sync algorithm of design.md: fixed run parameters stored before the first
// request; full first run over full_from .. run start + full_ahead; incremental runs from watermark -
// overlap with ModifiedSince resent on every page; one transaction per page (rows, tombstones, checkpoint);
// the watermark is the run's start by the rule of run_clock.hpp (a far-off clock on either side can cost
// re-reading, never a record), and one found in the future is repaired with a full sync; resume from the
// saved token; restart when Ditio rejects it; a continuation token sent twice in a run fails it.
// A full-mode window whose first page Ditio refuses (a 400, whatever it says) is halved down to a day, and
// the run walks the pieces; the piece size that worked is remembered for the stream's next full runs. An
// incremental run refused on its first page becomes a full re-sync, once; so does one whose watermark is
// older than the stream's max_incremental_age, without asking. A 404 marks the stream unavailable.
// Fetching page N+1 overlaps committing page N on the database thread.
//
// Thread safety: runs on the io_context thread; store work hops to the db_worker.
#pragma once

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/db_worker.hpp>
#include <ditio_sync/sync/observer.hpp>
#include <ditio_sync/sync/run_report.hpp>
#include <ditio_sync/sync/stream_settings.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ditio_sync::sync {

// Settings shared by every stream; a stream's own are in stream_settings.
struct engine_settings {
    std::chrono::milliseconds overlap = config::sync_section{}.overlap;
    int run_retry_budget = config::http_section{}.run_retry_budget; // retries of all requests of one run
    unsigned commit_attempts = 4; // tries of one page commit against a lock held by another writer
    std::chrono::milliseconds progress_every{std::chrono::seconds{10}}; // sync.progress cadence in long runs
    bool page_events_at_debug = false; // sync.page_committed at debug (a live progress line shows pages)
    store::run_retention retention;    // sync_runs kept per stream
    std::int64_t max_pages = 0; // `capture`: a run stops (as cancelled) after this many pages; 0: no limit
};

enum class run_kind { automatic, full };

class page_committer;
struct page_transaction;

class engine {
public:
    engine(
        ditio::extraction_client& api,
        db_worker& db,
        const util::clock& clock,
        engine_settings settings,
        util::stop_source& stop,
        log::logger_ptr logger
    );

    // Runs `stream` until its traversal ends, it fails, or a stop is requested. Never throws for
    // expected failures; the report says what happened (and sync_state/sync_runs record it).
    boost::asio::awaitable<run_report> run(const stream_settings& stream, run_kind kind);

    // Told of run starts, committed pages and run ends (metrics, systemd status, progress); may be null.
    void set_observer(observer* o) { observer_ = o; }
    // The shared settings after a configuration reload; runs in progress keep their fixed parameters.
    void set_settings(engine_settings s) { settings_ = s; }

    // Records when the scheduler will next run `stream`, for `status`. Failures are only logged.
    boost::asio::awaitable<void> note_next_run(std::string stream, std::chrono::system_clock::time_point at);

private:
    struct run_state;

    // The run in progress resumed, or a new one planned and saved; the database's error when it failed.
    boost::asio::awaitable<std::optional<std::string>> begin(run_state& rs, run_kind kind);
    // Waits for the page commit in flight and tells of it; false (the failure recorded) when it failed.
    boost::asio::awaitable<bool> settle(run_state& rs, page_committer& committer);
    // A new full run's plan (windowed streams start from the remembered piece size). Throws db_error.
    boost::asio::awaitable<void> plan_full_run(run_state& rs);
    // Acts on a page that could not be fetched (run_failure.hpp); true when the run goes on.
    boost::asio::awaitable<bool> after_fetch_failure(run_state& rs, const ditio::fetch_failure& f);
    // Ditio refused the incremental run as a whole: it goes on as a full re-sync; false when the database
    // refused (the failure recorded).
    boost::asio::awaitable<bool> resync(run_state& rs, const ditio::fetch_failure& f);
    // Runs `step` on the database thread; false (the failure recorded) when the database refused it.
    boost::asio::awaitable<bool> store_step(run_state& rs, std::function<void(store::sync_store&)> step);
    boost::asio::awaitable<void> token_cycle(run_state& rs);
    // The run's start by the rule of run_clock.hpp, from its first page; logs sync.clock_skew.
    std::string run_start_of(const run_state& rs, const ditio::fetched_page& first);
    // What committing `page` writes besides its records: the checkpoint, the next window piece, and on
    // the last page the watermark and the sweep.
    page_transaction transaction_of(run_state& rs, const ditio::fetched_page& page);
    // Records the end of a run that could not finish; a failure to record it is only logged.
    boost::asio::awaitable<void> record_failure(
        run_state& rs,
        run_status status,
        std::string error,
        store::run_checkpoint checkpoint = store::run_checkpoint::keep
    );
    std::string now_text() const;

    ditio::extraction_client& api_;
    db_worker& db_;
    const util::clock& clock_;
    engine_settings settings_;
    util::stop_source& stop_;
    log::logger_ptr log_;
    observer* observer_ = nullptr;
};

} // namespace ditio_sync::sync

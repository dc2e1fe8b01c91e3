// What a run tells as it goes: its log lines (sync.run_started, sync.page_committed, sync.progress,
// sync.run_finished, sync.run_failed) and its observer (metrics, systemd status, progress output); and
// the report's page and row counts, kept as the pages are committed.
//
// Thread safety: on the io_context thread of the run.
#pragma once

#include <ditio_sync/log/log.hpp>
#include <ditio_sync/sync/observer.hpp>
#include <ditio_sync/sync/page_committer.hpp>
#include <ditio_sync/sync/run_plan.hpp>
#include <ditio_sync/sync/run_report.hpp>
#include <ditio_sync/util/clock.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ditio_sync::sync {

class run_reporter {
public:
    struct options {
        std::chrono::milliseconds progress_every{std::chrono::seconds{10}}; // sync.progress cadence
        bool page_events_at_debug = false; // sync.page_committed at debug (a live progress line shows pages)
    };

    // `obs` may be null. The run's clock starts now.
    run_reporter(
        log::logger_ptr logger, observer* obs, const util::clock& clock, std::string stream, options o
    );

    // The run could not begin (its bookkeeping failed): report.status and report.error say why.
    void failed_to_start(const run_report& report, run_mode mode);
    // The run began or resumed (at `page`, when resumed) with `plan`.
    void started(const run_report& report, const run_plan& plan, std::int64_t page);
    // A page is in the database: adds it to the report's counts and tells of it.
    void committed(run_report& report, const settled_commit& c);
    // The run is over; `watermark` is the one its last page saved, when it completed.
    void finished(const run_report& report, const std::optional<std::string>& watermark);

private:
    std::chrono::milliseconds elapsed() const;
    // sync.record_quarantined and sync.parent_unknown for a committed page.
    void records_set_aside(const run_report& report, const settled_commit& c);
    static constexpr std::size_t max_quarantine_lines = 5; // sync.record_quarantined lines per run, one each

    log::logger_ptr log_;
    observer* observer_;
    const util::clock& clock_;
    std::string stream_;
    options options_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point last_progress_;
    std::int64_t run_rows_ = 0;
    std::size_t quarantine_logged_ = 0;
    bool parent_unknown_told_ = false;
};

} // namespace ditio_sync::sync

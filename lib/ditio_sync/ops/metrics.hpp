// Process-wide sync metrics: counters and gauges the sync engine and the HTTP layer feed, rendered in the
// Prometheus text format (GET /metrics), and the per-stream freshness verdict behind GET /healthz.
//
// Thread safety: every member may be called from any thread (one mutex); the daemon calls the updaters on
// its io_context thread and ops_server renders there too.
#pragma once

#include <ditio_sync/sync/observer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::ops {

// An enabled stream and how old its last successful run may be before /healthz calls it stale.
struct stream_health_spec {
    std::string stream;
    std::chrono::milliseconds max_age{0};
};

struct health_report {
    bool ok = false;  // true: /healthz answers 200; false: 503
    std::string json; // the body (see check_health)
};

// Health rules (check_health), for each enabled stream, i.e. each one named by the last set_streams:
//   - "unavailable": Ditio answered 404 for its endpoint (set_unavailable, seed, or a run that finished
//     "unavailable"); it never makes the report unhealthy. A run that finishes "ok" clears the flag.
//   - "fresh": its last success is younger than max_age (now - last_success < max_age).
//   - "stale": its last success is max_age or older. Unhealthy.
//   - "pending": it has never succeeded, but it was enabled (first listed by set_streams) less than
//     max_age ago. Healthy: a fresh install's first full sync gets max_age to finish, and a restart does
//     not report 503 for a stream whose first run simply has not ended yet.
//   - "never": it has never succeeded and was enabled max_age or more ago. Unhealthy.
// The report is ok when no enabled stream is stale or never, no push problem is set (set_push_problem) and
// the database check (when set) finds no problem; with no enabled streams and no problem it is ok. A last
// success seeded from the database counts like one from a run, so a daemon restarted after a long outage
// reports stale until each stream's first run after the restart succeeds.
//
// Counters count what this process did since it started; they never go down (Prometheus semantics), and a
// stream dropped from set_streams keeps its counters but loses its health gauges.
class metrics final : public sync::observer {
public:
    // `process_start` is exported as process_start_time_seconds.
    explicit metrics(std::chrono::system_clock::time_point process_start);

    // --- sync::observer; never throw ---
    void run_started(std::string_view stream, sync::run_mode mode) override;
    // Adds the page's rows and one page to the stream's counters.
    void page_committed(const sync::page_progress& p) override;
    // Counts the run by r.status and records its duration. The run's totals top up the counters by what
    // its pages did not report (rows swept by a full re-sync). On "ok", records succeeded_at and watermark
    // (when set) and clears unavailable; on "unavailable", sets it.
    void run_finished(const sync::run_outcome& r) override;

    // One HTTP exchange with Ditio (token endpoint included): its status, or 0 when no answer came
    // (network error, timeout, TLS failure), exported as status="error".
    void http_response(int status);
    void token_refreshed();
    // One retried request of `stream`.
    void retry(std::string_view stream);

    // The enabled streams and their staleness bounds, replacing the previous list (call again on reload).
    // A stream not in the previous list counts as enabled at `now`, which starts its "pending" grace.
    void set_streams(std::vector<stream_health_spec> streams, std::chrono::system_clock::time_point now);

    // Start-up state read from the database, so /healthz and the gauges are right before the first run.
    // Values already recorded by a run are not overwritten by older ones.
    void seed(
        std::string stream,
        std::optional<std::chrono::system_clock::time_point> last_success,
        std::optional<std::chrono::system_clock::time_point> watermark,
        bool unavailable
    );

    void set_unavailable(std::string_view stream, bool unavailable);
    // The stream's records in the quarantine table (start-up; each page commit updates it after).
    void set_quarantined(std::string_view stream, std::int64_t records);

    // Asked at every health verdict: what is wrong with the database (its file deleted while open, say),
    // or nullopt. Runs on the caller's thread, outside the lock.
    void set_database_check(std::function<std::optional<std::string>()> check);

    // The push's configuration problem (ditio.api_base answering with something that is not Ditio), or
    // nullopt once a pass got past it. While set, /healthz is unhealthy ("status":"push").
    void set_push_problem(std::optional<std::string> problem);
    // Each feature (data extraction, push) and whether the API client's token serves it, exported as
    // ditio_sync_feature_enabled{feature}.
    void set_features(std::vector<std::pair<std::string, bool>> features);

    // The Prometheus text exposition format 0.0.4. Reads /proc/self/status for the resident memory; reads
    // no clock (ages are taken against `now`).
    std::string render_prometheus(std::chrono::system_clock::time_point now) const;

    // The verdict of the rules above and its JSON body:
    //   {"status":"ok"|"stale"|"database","streams":[{"stream":"...","state":"fresh"|"stale"|"pending"|
    //    "never"|"unavailable","last_success_at":"2026-01-02T03:04:05Z"|null,"age_s":N|null,"quarantined":N,
    //    "max_age_s":N}]}; quarantined records never make it unhealthy
    // with the streams in set_streams order; ages are whole seconds, rounded down. When the database check
    // finds a problem, "status" is "database" and "database" holds the problem; else with a push problem,
    // "status" is "push" and "push" holds it.
    health_report check_health(std::chrono::system_clock::time_point now) const;

private:
    using time_point = std::chrono::system_clock::time_point;

    struct stream_state {
        // Counters.
        std::int64_t upserted = 0;
        std::int64_t deleted = 0;
        std::int64_t pages = 0;
        std::int64_t retries = 0;
        std::map<sync::run_status, std::int64_t> runs; // by result
        bool running = false;                          // a run is in progress
        // Gauges.
        std::optional<time_point> last_success;
        std::optional<time_point> watermark;
        std::optional<std::chrono::milliseconds> last_duration;
        bool unavailable = false;
        std::int64_t quarantined = 0;
        // Set while the stream is enabled.
        std::optional<std::chrono::milliseconds> max_age;
        std::optional<time_point> enabled_since;
    };

    enum class health_state { fresh, stale, pending, never, unavailable };
    static health_state state_of(const stream_state& s, time_point now);

    stream_state& stream_locked(std::string_view name);

    const time_point process_start_;
    mutable std::mutex mutex_;
    std::map<std::string, stream_state, std::less<>> streams_;
    std::vector<std::string> enabled_; // set_streams order
    std::map<std::string, std::int64_t, std::less<>> http_responses_;
    std::int64_t token_refreshes_ = 0;
    std::function<std::optional<std::string>()> database_check_;
    std::optional<std::string> push_problem_;
    std::vector<std::pair<std::string, bool>> features_;
};

// The resident set size of this process from /proc/self/status (VmRSS), or nullopt when unreadable.
std::optional<std::int64_t> resident_memory_bytes();

} // namespace ditio_sync::ops

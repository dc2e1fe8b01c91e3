// The sync bookkeeping (sync_state, sync_runs) and the one-transaction-per-page commit that ties mirror
// writes to checkpoint writes. Every method runs on the database thread and throws db_error.
#pragma once

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/store/mirror.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ditio_sync::store {

struct stream_state {
    std::string stream;
    std::optional<std::string> watermark;
    std::optional<std::string> last_full_sync_at;
    std::optional<std::int64_t> run_id; // set while a run is in progress
    std::string run_mode;
    std::string run_params; // JSON
    std::optional<std::string> run_server_start;
    std::optional<std::string> run_local_start;
    std::optional<std::string> continuation_token;
    std::int64_t pages_done = 0;
    std::optional<std::string> last_success_at;
    std::optional<std::string> last_error;
    std::optional<std::string> last_error_at;
    std::optional<std::string> unavailable_at; // Ditio answered 404: the endpoint is not available here
    std::optional<std::string> next_run_at;
    std::optional<std::chrono::milliseconds> overlap; // in force when the watermark was written
    // Full-sync window pieces Ditio accepted after refusing larger ones, in seconds (migration 0007).
    std::optional<std::int64_t> window_span_s;
};

// One line of sync_runs.
struct run_record {
    std::int64_t id = 0;
    std::string mode;
    std::string status;
    std::string started_at;
    std::optional<std::string> finished_at; // nullopt while running
    std::int64_t pages = 0;
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
    std::optional<std::string> error;
};

// What one page commit writes besides the records: the page's checkpoint.
struct page_commit {
    std::string stream = {};
    std::string table = {};
    std::int64_t run_id = 0;
    const std::vector<model::record>* records = nullptr;
    const std::vector<model::quarantined_record>* quarantined = nullptr; // store/quarantine.hpp
    bool tombstones_carry_data = false;                                  // see mirror_table
    std::optional<std::string> next_token = {};     // nullopt: the traversal (of this window) ended
    std::optional<std::string> next_params = {};    // with no token: the run goes on with these run_params
    std::optional<std::string> server_start = {};   // Ditio's Date for the run, recorded once (first page)
    std::optional<std::int64_t> window_span_s = {}; // a window piece size Ditio accepted, remembered
    std::string now = {};                           // local UTC time, for synced_at and bookkeeping
};

// What the end of a run writes, with its last page.
struct run_end {
    std::string watermark = {};                  // the run's start by Ditio's clock
    std::optional<std::int64_t> overlap_ms = {}; // the overlap behind a new watermark; nullopt keeps the old
    bool full = false;
    bool sweep = false; // mark rows not returned by this full traversal deleted
    std::string window_field = {}, window_from = {}, window_to = {};
};

// How much run history sync_runs keeps per stream: runs started within keep_for, and at most the newest
// `keep` of them.
struct run_retention {
    std::chrono::milliseconds keep_for = config::storage_section{}.keep_runs_for;
    std::int64_t keep = config::storage_section{}.keep_runs;
};

struct commit_result {
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
    std::int64_t swept = 0;
    std::int64_t pages_done = 0;
    std::int64_t quarantined = 0; // the stream's quarantine entries after the commit
};

// What a failed run leaves for the next attempt.
enum class run_checkpoint {
    keep, // the run resumes from its last committed page
    drop, // the run is abandoned: the next attempt starts afresh from the configuration as it is then
};

class sync_store {
public:
    explicit sync_store(SQLite::Database& db);

    std::optional<stream_state> load(const std::string& stream);
    std::vector<stream_state> load_all();

    // Records a new run and its fixed parameters before its first request, and drops the stream's runs
    // beyond `retention`; returns the run id.
    std::int64_t begin_run(
        const std::string& stream,
        const std::string& mode,
        const std::string& params_json,
        const std::string& now,
        const run_retention& retention = {}
    );
    // Marks a run found in progress at start-up as running again (it continues from its checkpoint).
    void resume_run(const std::string& stream, std::int64_t run_id, const std::string& now);
    // Ditio rejected the saved continuation token: the run starts again from its first page.
    void restart_run(const std::string& stream, std::int64_t run_id, const std::string& now);

    // A page that is not the run's last, in one IMMEDIATE transaction with its checkpoint.
    commit_result commit_page(const page_commit& pc);
    // The run's last page and its end (the watermark, the optional sweep, the run marked ok), in one
    // IMMEDIATE transaction.
    commit_result finish_run(const page_commit& last_page, const run_end& end);

    // The run failed: record the error (redacted and cut to util::max_excerpt_bytes, as every error this
    // store writes), and keep or drop its checkpoint.
    void fail_run(
        const std::string& stream,
        std::int64_t run_id,
        const std::string& error,
        const std::string& now,
        run_checkpoint checkpoint = run_checkpoint::keep
    );
    // The process is stopping: keep the checkpoint, mark the run interrupted.
    void interrupt_run(const std::string& stream, std::int64_t run_id, const std::string& now);
    // Records an error that happened before any run began (e.g. authentication).
    void record_error(const std::string& stream, const std::string& error, const std::string& now);
    // Forgets the watermark, the checkpoint and the remembered window piece size: the next run is a full
    // sync that asks for the whole window (or max_window) again.
    void reset(const std::string& stream, const std::string& now);
    // Starts a stream where another database's stands (`capture` works on a scratch copy of the state):
    // its watermark and the overlap behind it, no run in progress.
    void start_from(const stream_state& other, const std::string& now);

    // Ditio answered 404 for the stream: the run ends as 'unavailable', the watermark stays. Returns true
    // when the stream was not already known to be unavailable (so it is reported once).
    bool mark_unavailable(const std::string& stream, std::int64_t run_id, const std::string& now);
    // The run's fixed parameters change (a date window split after Ditio refused it as too large).
    void update_run_params(const std::string& stream, std::int64_t run_id, const std::string& params);
    // The run in progress goes on in another mode with new parameters from its first page (an incremental
    // run Ditio refused becomes a full re-sync).
    void replan_run(
        const std::string& stream, std::int64_t run_id, const std::string& mode, const std::string& params
    );
    void set_next_run(const std::string& stream, const std::string& at, const std::string& now);

    // The stream's newest run, for status.
    std::optional<run_record> last_run(const std::string& stream);

    std::int64_t live_rows(const std::string& table);
    bool is_empty(const std::string& table); // no row at all, deleted or not
    std::int64_t deleted_rows(const std::string& table);
    std::int64_t quarantined(const std::string& stream); // entries in the quarantine table

private:
    mirror_table& mirror(const std::string& table, bool tombstones_carry_data);
    void ensure_row(const std::string& stream, const std::string& now);
    void prune_runs(const std::string& stream, const std::string& now, const run_retention& retention);
    commit_result apply_records(const page_commit& pc, mirror_table& table);
    // Adds the page to its run's line in sync_runs; the last one also marks the run ok.
    enum class page_position { within_run, last };
    void count_page(const page_commit& pc, const commit_result& done, page_position position);

    SQLite::Database& db_;
    std::map<std::string, std::unique_ptr<mirror_table>> mirrors_;
};

} // namespace ditio_sync::store

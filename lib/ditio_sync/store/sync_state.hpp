// The sync bookkeeping (sync_state, sync_runs) and the one-transaction-per-page commit that ties mirror
// writes to checkpoint writes. Every method runs on the database thread and throws db_error.
#pragma once

#include <ditio_sync/ditio/page.hpp>
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
};

// What one page commit writes besides the records.
struct page_commit {
    std::string stream;
    std::string table;
    std::int64_t run_id = 0;
    const std::vector<ditio::record>* records = nullptr;
    bool tombstones_carry_data = false;      // see mirror_table
    std::optional<std::string> next_token;   // nullopt: the traversal (of this window) ended
    std::optional<std::string> next_params;  // with no token: the run goes on with these run_params
    std::optional<std::string> server_start; // Ditio's Date for the run, recorded once (first page)
    std::string now;                         // local UTC time, for synced_at and bookkeeping
    // Only read on the last page:
    std::string watermark;                  // the run's start by Ditio's clock
    std::optional<std::int64_t> overlap_ms; // the overlap behind a new watermark; nullopt keeps the old
    bool full = false;
    bool sweep = false; // mark rows not returned by this full traversal deleted
    std::string window_field, window_from, window_to;
};

// How much run history sync_runs keeps per stream: runs started within keep_for, and at most the newest
// `keep` of them.
struct run_retention {
    std::chrono::milliseconds keep_for{std::chrono::hours{24 * 90}};
    std::int64_t keep = 10000;
};

struct commit_result {
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
    std::int64_t swept = 0;
    std::int64_t pages_done = 0;
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

    // One page in one IMMEDIATE transaction: records, checkpoint, and on the last page the watermark,
    // the optional sweep and the run's end.
    commit_result commit_page(const page_commit& pc);

    // The run failed: keep its checkpoint (the next attempt resumes), record the error (redacted and cut to
    // util::max_excerpt_bytes, as every error this store writes). With `abandon`
    // the run is dropped instead, so the next attempt starts afresh from the current configuration.
    void fail_run(
        const std::string& stream,
        std::int64_t run_id,
        const std::string& error,
        const std::string& now,
        bool abandon = false
    );
    // The process is stopping: keep the checkpoint, mark the run interrupted.
    void interrupt_run(const std::string& stream, std::int64_t run_id, const std::string& now);
    // Records an error that happened before any run began (e.g. authentication).
    void record_error(const std::string& stream, const std::string& error, const std::string& now);
    // Forgets the watermark and checkpoint: the next run is a full sync.
    void reset(const std::string& stream, const std::string& now);

    // Ditio answered 404 for the stream: the run ends as 'unavailable', the watermark stays. Returns true
    // when the stream was not already known to be unavailable (so it is reported once).
    bool mark_unavailable(const std::string& stream, std::int64_t run_id, const std::string& now);
    // The run's fixed parameters change (a date window split after Ditio refused it as too large).
    void update_run_params(const std::string& stream, std::int64_t run_id, const std::string& params);
    void set_next_run(const std::string& stream, const std::string& at, const std::string& now);

    std::int64_t live_rows(const std::string& table);
    bool is_empty(const std::string& table); // no row at all, deleted or not
    std::int64_t deleted_rows(const std::string& table);

private:
    mirror_table& mirror(const std::string& table, bool tombstones_carry_data);
    void ensure_row(const std::string& stream, const std::string& now);
    void prune_runs(const std::string& stream, const std::string& now, const run_retention& retention);

    SQLite::Database& db_;
    std::map<std::string, std::unique_ptr<mirror_table>> mirrors_;
};

} // namespace ditio_sync::store

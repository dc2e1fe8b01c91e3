// The outbox tables (migration 0003): rows people write for the daemon to push, and the outcome of each
// push. Every outcome is guarded by the row's revision, so a row changed while its push was in flight stays
// pending and goes out again with the change; the Ditio id is kept either way.
//
// Errors: throws db_error.
// Thread safety: none; used on the database thread only.
#pragma once

#include <SQLiteCpp/Database.h>
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::store {

enum class outbox_kind { project, work_order };

// A row's status column (migration 0003 checks it is one of these).
enum class outbox_status { pending, sent, failed };
std::string_view to_string(outbox_status s);
// Throws db_error for a value the schema does not allow.
outbox_status parse_outbox_status(std::string_view text);

// Whether a project or work order is active in Ditio.
enum class outbox_active { no, yes };

struct outbox_row {
    outbox_kind kind = outbox_kind::project;
    std::int64_t id = 0;
    std::int64_t revision = 0;
    std::string company_id;
    std::string project_number;
    std::string external_id;    // work orders only
    boost::json::object fields; // the desired Integration API fields, keys (companyId, ...) left out
    std::optional<std::string> ditio_id;
    std::optional<std::string> ditio_project_id; // work orders only
    std::int64_t attempts = 0;
};

// Where a project stands in the outbox.
struct outbox_project_state {
    outbox_status status = outbox_status::pending;
    std::optional<std::string> ditio_id;
    std::optional<std::string> last_error;
};

// One row as `push` reports it.
struct outbox_outcome {
    std::string what; // "project P-1001", "work order P-1001/WO-001"
    outbox_status status = outbox_status::pending;
    std::optional<std::string> ditio_id;
    std::optional<std::string> last_error;
};

// What the pending rows are, in brief: a pass whose rows have not changed since the last one is skipped.
struct outbox_fingerprint {
    std::int64_t pending = 0;
    std::int64_t max_project_id = 0;
    std::int64_t max_work_order_id = 0;
    std::int64_t revisions = 0;
    std::string last_update;
    bool operator==(const outbox_fingerprint&) const = default;
};

struct outbox_counts {
    std::int64_t pending = 0, sent = 0, failed = 0;
};

class outbox_store {
public:
    explicit outbox_store(SQLite::Database& db);

    // Pending rows, oldest first. With `only`, just that row (whatever its status) when it exists.
    std::vector<outbox_row> pending(outbox_kind kind, std::optional<std::int64_t> only = std::nullopt);

    std::optional<outbox_project_state>
    project_state(const std::string& company_id, const std::string& number);

    // Outcomes. Each returns false when the row changed since it was read (it stays pending).
    bool mark_sent(const outbox_row& row, const std::string& ditio_id, const std::string& now);
    bool mark_failed(const outbox_row& row, const std::string& error, const std::string& now);
    // A transient failure: still pending, one attempt more, the error kept for people to see.
    bool mark_attempt(const outbox_row& row, const std::string& error, const std::string& now);
    // A work order waiting for its project: the reason, no attempt. True when the reason is new.
    bool mark_waiting(const outbox_row& row, const std::string& why);
    // Remembers the row's Ditio id (kept whatever became of the row meanwhile).
    void remember_ditio_id(const outbox_row& row, const std::string& ditio_id);
    // Remembers the work order's resolved project (kept across attempts).
    void set_ditio_project_id(const outbox_row& row, const std::string& project_id);

    // Work orders that failed because their project was missing from Ditio become pending again once it
    // has been pushed. Returns how many.
    int reopen_waiting_work_orders(const std::string& company_id, const std::string& number);

    // `push project` / `push work-order`: insert or update the row and make it pending; returns its id.
    std::int64_t put_project(
        const std::string& company_id,
        const std::string& number,
        const std::string& name,
        outbox_active active
    );
    std::int64_t put_work_order(
        const std::string& company_id,
        const std::string& project_number,
        const std::string& external_id,
        const std::string& name,
        outbox_active active
    );

    std::optional<outbox_outcome> outcome(outbox_kind kind, std::int64_t id);
    outbox_counts counts(outbox_kind kind);
    // The last_error of the pending row tried last (Ditio unreachable, ditio.api_base not Ditio's, a client
    // without ditioapiv3), or nullopt when no pending row holds one.
    std::optional<std::string> last_pending_error();
    bool any_pending();
    outbox_fingerprint fingerprint();
    // PRAGMA data_version: changes when another connection commits to the database.
    std::int64_t data_version();

private:
    // One attempt of the row's revision: attempts + 1, last_error, last_attempt_at and `set` (a constant
    // SQL fragment). False when the row changed meanwhile.
    bool record_attempt(
        const outbox_row& row,
        std::string_view set,
        const std::optional<std::string>& error,
        const std::string& now
    );

    SQLite::Database& db_;
};

// The row as its table names it in logs: "project P-1001", "work order P-1001/WO-001".
std::string describe(const outbox_row& row);

} // namespace ditio_sync::store
